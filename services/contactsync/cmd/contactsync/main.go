// Command contactsync runs the socialsync contactsync worker: it turns the social tags of posts into tags of the posts' contacts.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/contactsync"
)

func main() {
	var cfg contactsync.Config
	fleet.Main("contactsync", "turns the social tags of posts into tags of the posts' contacts", &cfg, &cfg.Config, contactsync.New)
}
