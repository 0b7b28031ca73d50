"""The log-in page: one form, in Chinese, readable on a wall and on a phone. Plain HTML with no
script (the Content-Security-Policy allows none inline); the server answers its POST."""

from __future__ import annotations

import html


def login_page_html(message: str, target: str) -> str:
    """The page, with ``message`` under the form (escaped) and ``target``, a same-site path
    already checked by the caller, to return to after logging in."""
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>登录 · 应急一张图</title>
<link rel="icon" href="/static/onemap/favicon.svg" type="image/svg+xml">
<style>body{{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;background:#f1f3f5;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}}
form{{background:#fff;padding:28px;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.15);width:min(360px,90vw)}}h1{{font-size:22px;margin:0 0 16px}}
label{{display:block;margin:12px 0 4px;font-size:16px}}input{{width:100%;box-sizing:border-box;font-size:18px;padding:10px}}
button{{margin-top:18px;width:100%;font-size:18px;padding:12px;background:#d7191c;color:#fff;border:0;border-radius:6px}}.err{{color:#a50f15;margin-top:10px}}</style></head>
<body><form method="post" action="/login"><h1>应急一张图 登录</h1>
<input type="hidden" name="next" value="{html.escape(target)}">
<label for="username">用户名</label><input id="username" name="username" autocomplete="username" required>
<label for="password">密码</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="login">登录</button><div class="err" id="login-error">{html.escape(message)}</div></form></body></html>"""
