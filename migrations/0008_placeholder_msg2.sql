-- Placeholder on the msg2 branch for a migration another branch adds at this
-- number (the lead drops it at merge): the loader refuses gaps, and msg2's is 0011.
SELECT 1;
