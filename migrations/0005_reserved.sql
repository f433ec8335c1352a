-- Placeholder on the events branch only: version 5 belongs to another branch
-- (messaging / sessions). The lead drops this file when merging theirs.
SELECT 1;
