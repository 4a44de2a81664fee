// A throwaway PostgreSQL server for tests (see the helper brief); filled in next.
