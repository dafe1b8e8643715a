// HighLevel's official Node SDK against the socialsync simulator. The SDK is
// used as published; only its base URL points at the simulator, whose
// address comes from GHL_SIM_URL. Run by pkg/ghlsim's TestOfficialNodeSDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HighLevel } from '@gohighlevel/api-client';

const base = process.env.GHL_SIM_URL;
if (!base) throw new Error('GHL_SIM_URL is not set');

async function admin(path) {
  const res = await fetch(base + path);
  assert.equal(res.status, 200, `GET ${path}`);
  return res.json();
}

function sdk(config) {
  HighLevel.BASE_URL = base; // the one change: where the API lives
  return new HighLevel({ logLevel: 'none', ...config });
}

test('social planner, contacts and locations with a private integration token', async () => {
  const { locations } = await admin('/_sandbox/locations');
  assert.ok(locations.length > 0, 'the demo seed has locations');
  const loc = await admin('/_sandbox/locations/' + locations[0].id);
  const ghl = sdk({ privateIntegrationToken: loc.token });

  const page = await ghl.socialMediaPosting.getTagsLocationId({ locationId: loc.id, limit: '5', skip: '0' });
  assert.equal(page.success, true);
  assert.equal(page.results.tags.length, 5);
  assert.equal(page.results.tags[0].locationId, loc.id);

  const ids = page.results.tags.slice(0, 2).map((t) => t._id);
  const details = await ghl.socialMediaPosting.getTagsByIds({ locationId: loc.id }, { tagIds: ids });
  assert.equal(details.statusCode, 201);
  assert.deepEqual(details.results.tags.map((t) => t._id).sort(), [...ids].sort());

  const accounts = await ghl.socialMediaPosting.getAccount({ locationId: loc.id });
  assert.ok(accounts.results.accounts.length > 0);
  assert.ok(accounts.results.accounts[0].profileId);

  const now = new Date();
  const posts = await ghl.socialMediaPosting.getPosts({ locationId: loc.id }, {
    type: 'all', skip: '0', limit: '10', includeUsers: 'true',
    fromDate: new Date(now.getTime() - 365 * 86400e3).toISOString(), toDate: now.toISOString(),
  });
  assert.ok(posts.results.posts.length > 0, 'the demo seed has posts');
  const post = await ghl.socialMediaPosting.getPost({ locationId: loc.id, id: posts.results.posts[0]._id });
  assert.equal(post.results.post._id, posts.results.posts[0]._id);

  const contactId = loc.contacts[0].id;
  const added = await ghl.contacts.addTags({ contactId }, { tags: ['sdk-compat'] });
  assert.ok(added.tags.includes('sdk-compat'));
  const removed = await ghl.contacts.removeTags({ contactId }, { tags: ['sdk-compat'] });
  assert.ok(!removed.tags.includes('sdk-compat'));

  const found = await ghl.contacts.searchContactsAdvanced({ locationId: loc.id, pageLimit: 10, page: 1 });
  assert.equal(found.contacts.length, 10);
  assert.ok(found.total >= 10);

  const created = await ghl.locations.createTag({ locationId: loc.id }, { name: 'sdk compat' });
  assert.equal(created.tag.name, 'sdk compat');
  const tags = await ghl.locations.getLocationTags({ locationId: loc.id });
  assert.ok(tags.tags.some((t) => t.id === created.tag.id));

  const cv = await ghl.locations.createCustomValue({ locationId: loc.id }, { name: 'sdk compat', value: '1' });
  assert.equal(cv.customValue.value, '1');
  const cv2 = await ghl.locations.updateCustomValue({ locationId: loc.id, id: cv.customValue.id }, { name: 'sdk compat', value: '2' });
  assert.equal(cv2.customValue.value, '2');
  const values = await ghl.locations.getCustomValues({ locationId: loc.id });
  assert.ok(values.customValues.some((v) => v.id === cv.customValue.id && v.value === '2'));
});

test('the SDK surfaces the simulator\'s errors', async () => {
  const { locations } = await admin('/_sandbox/locations');
  const ghl = sdk({ privateIntegrationToken: 'pit-00000000-0000-4000-8000-000000000000' });
  await assert.rejects(
    ghl.socialMediaPosting.getTagsLocationId({ locationId: locations[0].id }),
    (err) => err.statusCode === 401 || err.response?.status === 401,
  );
});

test('OAuth: authorization code, refresh, rotated refresh token', async () => {
  const { apps } = await admin('/_sandbox/apps');
  const app = apps[0];
  const redirect = 'http://127.0.0.1:9/callback';
  const consent = new URL(base + '/oauth/chooselocation');
  consent.search = new URLSearchParams({
    response_type: 'code', client_id: app.clientId, redirect_uri: redirect, state: 'st-1',
    scope: 'socialplanner/tag.readonly contacts.write',
  });
  const res = await fetch(consent, { redirect: 'manual' });
  assert.equal(res.status, 302);
  const back = new URL(res.headers.get('location'));
  assert.equal(back.searchParams.get('state'), 'st-1');
  const code = back.searchParams.get('code');
  assert.ok(code);

  const ghl = sdk({ clientId: app.clientId, clientSecret: app.clientSecret });
  const tok = await ghl.oauth.getAccessToken({
    client_id: app.clientId, client_secret: app.clientSecret, grant_type: 'authorization_code',
    code, user_type: 'Location', redirect_uri: redirect,
  });
  assert.ok(tok.access_token && tok.refresh_token && tok.locationId);

  const next = await ghl.oauth.refreshToken(tok.refresh_token, app.clientId, app.clientSecret, 'refresh_token', 'Location');
  assert.ok(next.refresh_token && next.refresh_token !== tok.refresh_token, 'refresh tokens rotate');
  await assert.rejects(
    ghl.oauth.refreshToken(tok.refresh_token, app.clientId, app.clientSecret, 'refresh_token', 'Location'),
    'a used refresh token is refused',
  );

  const api = sdk({ clientId: app.clientId, clientSecret: app.clientSecret, locationAccessToken: next.access_token });
  const page = await api.socialMediaPosting.getTagsLocationId({ locationId: tok.locationId, limit: '1', skip: '0' });
  assert.equal(page.success, true);
});
