"""Private feeds and personal access tokens: a member's read-only keys to the content."""
