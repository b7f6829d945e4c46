"""autoheal: keeps a small web service on AWS up with nobody at the keyboard."""
