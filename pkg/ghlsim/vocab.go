package ghlsim

// Word lists of the demo seed. They are functions, not package variables,
// so the package holds no mutable state.

// demoLocations are the demo sub-accounts: name, IANA time zone, address.
func demoLocations() [][3]string {
	return [][3]string{
		{"Bluebird Bakery", "America/New_York", "214 Orchard St, New York, NY 10002, USA"},
		{"Alpine Outfitters", "Europe/Berlin", "Leopoldstraße 42, 80802 München, Germany"},
		{"Lotus Yoga Studio", "Asia/Kolkata", "12 MG Road, Bengaluru, Karnataka 560001, India"},
		{"Harbour Dental", "Australia/Sydney", "88 George St, The Rocks NSW 2000, Australia"},
		{"Sunset Auto Care", "America/Los_Angeles", "5120 Sunset Blvd, Los Angeles, CA 90027, USA"},
	}
}

// socialTopics are Social Planner tag names.
func socialTopics() []string {
	return []string{
		"Summer Sale", "Product Launch", "Behind the Scenes", "Customer Stories", "Tips & Tricks",
		"Holiday Special", "Team Spotlight", "Giveaway", "Testimonial", "New Arrivals", "Flash Sale",
		"Throwback Thursday", "Motivation Monday", "Event Recap", "Webinar", "How-To", "Case Study",
		"Industry News", "Community", "Sustainability", "Black Friday", "Cyber Monday", "Back to School",
		"Spring Collection", "Fall Menu", "Limited Edition", "Local Love", "Partner Feature", "FAQ",
		"Announcement", "Milestone", "User Generated", "Recipe", "Workout", "Before & After", "Q&A",
		"Poll", "Contest", "Infographic", "Video Tour", "Staff Picks", "Weekend Vibes", "Open House",
		"Loyalty Program", "Referral Bonus", "Gift Guide", "Meet the Founder", "Seasonal Menu",
		"Workshop", "Charity Drive",
	}
}

// socialQualifiers make more tag names out of topics.
func socialQualifiers() []string {
	return []string{"2025", "2026", "Reel", "Story", "Campaign", "Q1", "Q2", "Q3", "Q4", "Series", "Live", "Promo"}
}

// contactTagWords are contact tags (already normalized: lower case).
func contactTagWords() []string {
	return []string{
		"lead", "customer", "vip", "newsletter", "webinar attendee", "facebook lead", "instagram follower",
		"abandoned cart", "repeat buyer", "referral", "event attendee", "trial", "churn risk",
		"wholesale", "review requested", "coupon redeemed", "linkedin lead", "tiktok lead",
	}
}

func firstNames() []string {
	return []string{
		"Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Mateo", "Isabella", "Lucas",
		"Mia", "Levi", "Amelia", "Ezra", "Harper", "Asher", "Aanya", "Arjun", "Priya", "Rohan",
		"Hannah", "Jonas", "Lea", "Finn", "Chloe", "Jack", "Zoe", "Oscar", "Ruby", "Leo",
		"Yuki", "Kenji", "Fatima", "Omar", "Sofia", "Diego", "Grace", "Ethan", "Nora", "Samuel",
	}
}

func lastNames() []string {
	return []string{
		"Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson",
		"Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Müller", "Schmidt", "Schneider", "Fischer", "Weber",
		"Sharma", "Patel", "Reddy", "Iyer", "Nguyen", "Kim", "Tanaka", "Sato", "O'Brien", "Kelly",
		"Murphy", "Walsh", "Rossi", "Bianchi", "Silva", "Santos", "Cohen", "Levi", "Novak", "Horvat",
	}
}

// postSummaries are post texts; %s is a tag name.
func postSummaries() []string {
	return []string{
		"Fresh this week: %s! Stop by and say hi.",
		"%s — tell us what you think in the comments 👇",
		"Our team had a blast with %s. More photos soon!",
		"Don't miss %s. Link in bio.",
		"Three things we learned from %s.",
		"%s is here. Book your spot today.",
	}
}

// platforms are the Social Planner platforms the statistics endpoint
// supports, in the order of its enum.
func platforms() []string {
	return []string{"facebook", "instagram", "linkedin", "google", "pinterest", "youtube", "tiktok"}
}

// isPlatform reports whether p is a platform the statistics endpoint accepts.
func isPlatform(p string) bool {
	switch p {
	case "facebook", "instagram", "linkedin", "google", "pinterest", "youtube", "tiktok":
		return true
	}
	return false
}

// accountType is the account type HighLevel shows for a platform.
func accountType(platform string) string {
	switch platform {
	case "google":
		return "location"
	case "facebook", "linkedin":
		return "page"
	case "youtube":
		return "channel"
	default:
		return "business"
	}
}

// platformTitle is a platform's display name.
func platformTitle(platform string) string {
	switch platform {
	case "facebook":
		return "Facebook"
	case "instagram":
		return "Instagram"
	case "linkedin":
		return "LinkedIn"
	case "google":
		return "Google Business Profile"
	case "pinterest":
		return "Pinterest"
	case "youtube":
		return "YouTube"
	case "tiktok":
		return "TikTok"
	}
	return platform
}
