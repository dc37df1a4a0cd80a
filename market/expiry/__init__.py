"""The expiry run (有效期届满): rights and quotas whose validity ended are swept into the
retirement account of their jurisdiction's bureau."""
