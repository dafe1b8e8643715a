// Package dashboard holds the browser tests of the gateway's dashboard:
// headless Chromium (Debian's chromium package) driven by chromedp against
// the gateway, the workers, an in-process JetStream server and the
// simulator with its demo data. Without Chromium the tests skip, saying
// how to install it, except under CI=true, where they fail.
package dashboard
