def register_blueprints(app):
    from .account import bp as account_bp
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .broker import bp as broker_bp
    from .challenges import bp as challenges_bp
    from .contracts import bp as contracts_bp
    from .desk import bp as desk_bp
    from .events import bp as events_bp  # issue 13: events, 揭榜挂帅, the hall's front page
    from .gaps import bp as gaps_bp
    from .hall import bp as hall_bp
    from .listings import bp as listings_bp
    from .main import bp as main_bp
    from .stations import bp as stations_bp
    from .stats import bp as stats_bp
    from .todo import bp as todo_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(account_bp, url_prefix="/me")
    app.register_blueprint(
        listings_bp, name="achievements", url_prefix="/achievements", url_defaults={"kind_name": "achievement"}
    )
    app.register_blueprint(listings_bp, name="needs", url_prefix="/needs", url_defaults={"kind_name": "need"})
    app.register_blueprint(gaps_bp, url_prefix="/matching")  # 供需缺口
    app.register_blueprint(broker_bp, url_prefix="/broker")
    app.register_blueprint(contracts_bp, url_prefix="/contracts")
    app.register_blueprint(stats_bp, url_prefix="/stats")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(stations_bp, url_prefix="/stations")
    app.register_blueprint(desk_bp, url_prefix="/desk")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(todo_bp, url_prefix="/todo")
    app.register_blueprint(events_bp, url_prefix="/events")
    app.register_blueprint(challenges_bp, url_prefix="/challenges")
    app.register_blueprint(hall_bp)
