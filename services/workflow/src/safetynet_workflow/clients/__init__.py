"""The workflow service's calls to the other services, over their HTTP APIs only (never their tables):
intake (as a department with a service key, and as the signed-in user), notify (as the signed-in user)."""
