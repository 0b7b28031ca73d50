"""Accounts: users, API tokens, sessions, share links and the audit log, as released.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Frozen SQL of the tables at this revision; a table that exists already is kept.
"""


from layers.migrations.frozen import create_tables, drop_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES: dict[str, tuple[str, ...]] = {
    "api_tokens": (
        "CREATE TABLE {schema}.api_tokens (\n\tid SERIAL NOT NULL, \n\ttoken_hash VARCHAR(64) NOT NULL, \n\tusername VARCHAR(64) NOT NULL, \n\tlabel VARCHAR(200) NOT NULL, \n\tcreated_at TIMESTAMP WITH TIME ZONE NOT NULL, \n\trevoked BOOLEAN NOT NULL, \n\tPRIMARY KEY (id), \n\tUNIQUE (token_hash)\n)",
        "CREATE INDEX \"ix_{schema_name}_api_tokens_username\" ON {schema}.api_tokens (username)",
    ),
    "audit_log": (
        "CREATE TABLE {schema}.audit_log (\n\tid SERIAL NOT NULL, \n\tat TIMESTAMP WITH TIME ZONE NOT NULL, \n\tactor VARCHAR(100) NOT NULL, \n\taction VARCHAR(64) NOT NULL, \n\ttarget VARCHAR(100) NOT NULL, \n\tbefore_ids TEXT NOT NULL, \n\tafter_ids TEXT NOT NULL, \n\tdetail TEXT NOT NULL, \n\tPRIMARY KEY (id)\n)",
        "CREATE INDEX \"ix_{schema_name}_audit_log_at\" ON {schema}.audit_log (at)",
    ),
    "sessions": (
        "CREATE TABLE {schema}.sessions (\n\tsession_hash VARCHAR(64) NOT NULL, \n\tusername VARCHAR(64) NOT NULL, \n\tcreated_at TIMESTAMP WITH TIME ZONE NOT NULL, \n\texpires_at TIMESTAMP WITH TIME ZONE NOT NULL, \n\tPRIMARY KEY (session_hash)\n)",
        "CREATE INDEX \"ix_{schema_name}_sessions_username\" ON {schema}.sessions (username)",
    ),
    "shares": (
        "CREATE TABLE {schema}.shares (\n\tid VARCHAR(32) NOT NULL, \n\ttoken_hash VARCHAR(64) NOT NULL, \n\ttitle VARCHAR(200) NOT NULL, \n\tcreated_by VARCHAR(64) NOT NULL, \n\tcreated_at TIMESTAMP WITH TIME ZONE NOT NULL, \n\texpires_at TIMESTAMP WITH TIME ZONE NOT NULL, \n\trevoked_at TIMESTAMP WITH TIME ZONE, \n\tscope TEXT NOT NULL, \n\tsnapshot TEXT NOT NULL, \n\tPRIMARY KEY (id), \n\tUNIQUE (token_hash)\n)",
    ),
    "users": (
        "CREATE TABLE {schema}.users (\n\tusername VARCHAR(64) NOT NULL, \n\tpassword_hash TEXT NOT NULL, \n\trole VARCHAR(16) NOT NULL, \n\tcreated_at TIMESTAMP WITH TIME ZONE NOT NULL, \n\tdisabled BOOLEAN NOT NULL, \n\tPRIMARY KEY (username)\n)",
    ),
}


def upgrade(schema: str) -> None:
    create_tables(TABLES, schema, keep_existing=True)


def downgrade(schema: str) -> None:
    drop_tables(TABLES, schema)
