"""修改密码: every logged-in user changes their own password (``api.auth.change_own_password``:
the current password, the policy of ``api.passwords``); their other sessions and tokens end,
this one stays."""
from flask import flash, g, redirect, render_template, request, url_for

from api.auth import change_own_password
from api.runtime import engine
from api.web import bp
from api.web.labels import field_errors
from api.web.session import login_required
from engine.errors import InvalidInput


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    errors = {}
    if request.method == "POST":
        new, repeated = request.form.get("new", ""), request.form.get("repeat", "")
        if new != repeated:
            errors["repeat"] = ["两次输入的新密码不一致"]
        else:
            try:
                change_own_password(engine(), g.user, request.form.get("current", "")[:500], new[:501],
                                    keep_digest=g.get("token_digest"))
            except InvalidInput as err:
                errors = field_errors(err, default="new")
            else:
                flash("密码已修改，您在其他地方的登录已退出。")
                return redirect(url_for("web.inbox"))
    return render_template("password.html", errors=errors)
