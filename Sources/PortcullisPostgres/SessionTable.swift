import PostgresNIO

/// The `portcullis_sessions` table. `data` is ``SessionCodec`` output (refresh token sealed);
/// `username` and `sid` are copied out of it so revocation and front-channel logout find
/// rows without decoding them.
enum SessionTable {
    /// Serialises the migration between instances starting together: `IF NOT EXISTS` alone
    /// still races on the catalog (duplicate key in `pg_type`).
    static let migrationLockKey: Int64 = 0x706f_7274_6375_6c6c  // "portcull"

    static let migration: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS portcullis_sessions (
            id bytea PRIMARY KEY CHECK (octet_length(id) = 32),
            username text NOT NULL,
            sid text,
            expires_at timestamptz NOT NULL,
            data bytea NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        "CREATE INDEX IF NOT EXISTS portcullis_sessions_username ON portcullis_sessions (username)",
        "CREATE INDEX IF NOT EXISTS portcullis_sessions_sid ON portcullis_sessions (sid) WHERE sid IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS portcullis_sessions_expires_at ON portcullis_sessions (expires_at)",
    ]
}
