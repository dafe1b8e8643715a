package cli

import (
	"context"
	"fmt"

	"github.com/socialsync/socialsync/services/contactsync"
)

// contactsCmd runs a contacts subcommand.
func contactsCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "forget" {
		return fmt.Errorf("%w: want a subcommand: forget", errUsage)
	}
	return contactsForget(ctx, env, args[1:])
}

// contactsForget erases what socialsync holds of one contact of a location
// (contactsync.Eraser), as HighLevel's ContactDelete does.
func contactsForget(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "contacts forget", "Erase what socialsync holds of one contact of a location: its state and records, the posts' contact lists\n"+
		"it is in, its cached references, its segment memberships and the dead letters that name it or carry its email\n"+
		"or phone number (docs/personal-data.md). Name it by exactly one of --contact, --email or --phone. Safe to run again:\n"+
		"an interrupted erasure is finished by running it again. Prints counts, never the email or phone number.")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	contact := fs.String("contact", "", "the HighLevel contact id")
	email := fs.String("email", "", "an email the contact was named by")
	phone := fs.String("phone", "", "a phone number the contact was named by (E.164)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := locationArg(*loc); err != nil {
		return err
	}
	named := 0
	for _, v := range []string{*contact, *email, *phone} {
		if v != "" {
			named++
		}
	}
	if named != 1 {
		return fmt.Errorf("%w: name the contact by exactly one of --contact, --email or --phone", errUsage)
	}
	key, err := tokenKey()
	if err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	stores, err := contactsync.OpenStores(ctx, c.js)
	if err != nil {
		return err
	}
	eraser, err := contactsync.NewEraser(contactsync.EraserDeps{Relations: stores.Relations, ContactRefs: stores.ContactRefs,
		Publisher: c.publisher(), DeadLetters: contactsync.DeadLetterStoreOf(c.js),
		Purge: stores.Purge, TokenKey: key, Now: env.Now})
	if err != nil {
		return err
	}
	got, err := eraser.Erase(ctx, *loc, contactsync.Who{Contact: *contact, Email: *email, Phone: *phone}, "")
	if err != nil {
		return fmt.Errorf("erase (run the command again to finish): %w", err)
	}
	who := "no cached contact for this reference"
	if got.Contact != "" {
		who = "contact " + got.Contact
	}
	fmt.Fprintf(env.Stdout, "%s of %s erased: %d records, left %d posts, %d cached references, %d dead letters\n",
		who, *loc, got.Records, got.Posts, got.References, got.DeadLetters)
	return nil
}
