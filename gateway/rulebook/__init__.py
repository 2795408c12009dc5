"""The stored access rules: which URL paths are public, for members, or for some roles.

`store` keeps each process's table current (no SQL per request); `edit` changes the rules
(admin page, `flask rules`, import and export); `gate` answers "may this visitor see
this path?" for the content pages, their files and feeds. The matching itself is pure
(gateway/access_rules)."""
