"""``onemap user …``: accounts, API tokens and their audit lines."""

from __future__ import annotations

import sys

import click

from api.cli.app import _accounts, _cli_actor, _fail_cleanly, _pad, main


@main.group()
def user() -> None:
    """Accounts: viewer reads, editor also writes (incidents, closures, levels, imports, share
    links), admin also manages users.

    \b
    Examples:
      onemap user add zhang --role editor          asks for the password (or --password-stdin)
      onemap user list
      onemap user token zhang                      an API token for scripts (shown once)
      onemap user tokens zhang                     the tokens by id;  onemap user revoke ID
      onemap user passwd admin                     also ends the user's sessions and tokens
      onemap user disable zhang                    no more log-ins; sessions and tokens end
    """


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("password (at least 10 characters)", hide_input=True, confirmation_prompt=True))


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["sensor", "viewer", "editor", "admin"]), default="viewer", show_default=True, help="What the user may do (sensor: a gauge platform that only writes observations).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.pass_context
@_fail_cleanly
def user_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME with a role.

    \b
    Examples:
      onemap user add 张三 --role editor
      echo "$PASSWORD" | onemap user add ops --role viewer --password-stdin
    """
    from layers.accounts.tables import AuditLine

    created = _accounts(ctx).add_user(name, _read_password(password_stdin), role, audit=AuditLine(_cli_actor(), "create", "users", after=[name.strip()], detail={"role": role}))
    click.echo(f"user {created.username} ({created.role}) created")


@user.command("list")
@click.pass_context
@_fail_cleanly
def user_list(ctx: click.Context) -> None:
    """List the users and their roles.

    \b
    Examples:
      onemap user list
    """
    for account in _accounts(ctx).users():
        click.echo(f"{_pad(account.username, 24)} {_pad(account.role, 8)} {account.created_at:%Y-%m-%d %H:%M}{'  (disabled)' if account.disabled else ''}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of standard input.")
@click.pass_context
@_fail_cleanly
def user_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME. Their sessions end and their API tokens are revoked: log in
    again, and make new tokens with onemap user token NAME.

    \b
    Examples:
      onemap user passwd 张三
    """
    from layers.accounts.tables import AuditLine

    ended = _accounts(ctx).set_password(name, _read_password(password_stdin), audit=AuditLine(_cli_actor(), "passwd", "users", before=[name], after=[name]))
    click.echo(f"password of {name} changed; {ended} sessions and API tokens ended")


@user.command("disable")
@click.argument("name")
@click.pass_context
@_fail_cleanly
def user_disable(ctx: click.Context, name: str) -> None:
    """Disable NAME: no more log-ins; their sessions end and their API tokens are revoked at once.

    \b
    Examples:
      onemap user disable 张三
    """
    from layers.accounts.tables import AuditLine

    ended = _accounts(ctx).disable_user(name, audit=AuditLine(_cli_actor(), "disable", "users", before=[name], after=[name]))
    click.echo(f"user {name} disabled; {ended} sessions and API tokens ended")


@user.command("token")
@click.argument("name")
@click.option("--label", default="api", show_default=True, help="What the token is for (shown in the audit log).")
@click.pass_context
@_fail_cleanly
def user_token(ctx: click.Context, name: str, label: str) -> None:
    """Create an API token for NAME (send it as 'Authorization: Bearer TOKEN'); shown once.

    \b
    Examples:
      onemap user token qgis --label 规划科QGIS
    """
    from layers.accounts.tables import AuditLine

    click.echo(_accounts(ctx).new_api_token(name, label, audit=AuditLine(_cli_actor(), "create", "api_tokens", after=[name], detail={"label": label})))


@user.command("tokens")
@click.argument("name")
@click.pass_context
@_fail_cleanly
def user_tokens(ctx: click.Context, name: str) -> None:
    """List NAME's API tokens by id (the tokens themselves are never stored); revoke one with
    onemap user revoke TOKEN_ID.

    \b
    Examples:
      onemap user tokens qgis
    """
    rows = _accounts(ctx).tokens(name)
    if not rows:
        click.echo(f"{name} has no API tokens")
    for row in rows:
        click.echo(f"{row['id']:>6}  {_pad(str(row['label']), 24)} {row['created_at']:%Y-%m-%d %H:%M}  {'revoked' if row['revoked'] else 'active'}")


@user.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
@_fail_cleanly
def user_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke the API token TOKEN_ID (from onemap user tokens NAME) at once.

    \b
    Examples:
      onemap user revoke 3
    """
    from layers.accounts.tables import AuditLine

    owner = _accounts(ctx).revoke_token(token_id, audit=AuditLine(_cli_actor(), "revoke", "api_tokens", before=[str(token_id)], after=[str(token_id)]))
    click.echo(f"API token {token_id} of {owner} revoked")
