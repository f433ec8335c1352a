-- Placeholder on the media branch only: the lead gave this branch 0009 and
-- another branch 0008, and the loader refuses gaps. Drop this file at merge
-- (the other branch's 0008 takes its place). Does nothing.
SELECT 1;
