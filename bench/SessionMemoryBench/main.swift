// The session-memory benchmark (bench/session-memory.sh); being written.
print("not yet")
