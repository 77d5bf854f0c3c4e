"""web keeps no tables. This module exists so that Django sends web its post_migrate signal (only apps
with a models module get one, after a migrate and after a flush), on which the roles are restored
(web/apps.py)."""
