"""``punchgate serve`` and ``punchgate demo``: run the gateway."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from gateway.cli.output import fail, open_gateway
from gateway.config import Settings

# The checkout (or installed tree) holding wsgi.py and fixtures/.
ROOT = Path(__file__).resolve().parent.parent.parent


@click.command()
@click.option("--host", help="Address to bind  [default: 127.0.0.1; --production: 0.0.0.0]")
@click.option("--port", type=int, help="Port to bind  [default: 8000]")
@click.option("--workers", type=int, help="gunicorn workers  [default: 2, or PUNCHGATE_WORKERS]")
@click.option(
    "--production",
    is_flag=True,
    help="Bind as gunicorn.conf.py says (PUNCHGATE_BIND, PUNCHGATE_WORKERS) and require "
    "PUNCHGATE_BASE_URL: the same server compose and the Docker image run.",
)
@click.option("--outbox-worker", is_flag=True, help="Also run the outbox worker beside gunicorn.")
def serve(host, port, workers, production: bool, outbox_worker: bool) -> None:
    """Serve with gunicorn and gunicorn.conf.py (JSON logs, metrics, startup checks).

    \b
    Example:
      punchgate serve --production --outbox-worker
    """
    from gateway.instance import check_startup

    gateway = open_gateway()
    # Refused here with one line, before gunicorn starts: an old schema would answer
    # 500s, foreign keys would fail every request the other instances signed.
    try:
        check_startup(gateway)
    finally:
        gateway.db.dispose()
    if production and not os.environ.get("PUNCHGATE_BASE_URL"):
        fail(
            "PUNCHGATE_BASE_URL is not set; --production needs the public URL buyers reach "
            "(StartPage links are built from it)"
        )
    env = dict(os.environ)
    if host or port or not production:
        default_host = "0.0.0.0" if production else "127.0.0.1"  # noqa: S104 - a container's bind
        env["PUNCHGATE_BIND"] = f"{host or default_host}:{port or 8000}"
    if workers or not production:
        env["PUNCHGATE_WORKERS"] = str(workers or 2)
    # Without a public URL configured, StartPage links point at the bound address.
    env.setdefault("PUNCHGATE_BASE_URL", f"http://{env.get('PUNCHGATE_BIND', '127.0.0.1:8000')}")
    # The checkout's files, or the working directory's (the Docker image's /app).
    here = next((d for d in (Path.cwd(), ROOT) if (d / "gunicorn.conf.py").is_file()), None)
    if here is None or not (here / "wsgi.py").is_file():
        fail("gunicorn.conf.py and wsgi.py not found here or in the checkout")
    argv = [sys.executable, "-m", "gunicorn", "-c", str(here / "gunicorn.conf.py"), "wsgi:app"]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(here), env.get("PYTHONPATH")]))
    if not outbox_worker:
        os.execvpe(argv[0], argv, env)  # noqa: S606 - replace this process with gunicorn
    import signal
    import subprocess

    # Both children live and die together; the worker is a separate process so a
    # crash in one never takes the other down.
    children = [
        subprocess.Popen(argv, env=env),
        subprocess.Popen([sys.executable, "-m", "gateway", "outbox", "run"], env=env),
    ]

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            child.wait(10)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only migrate and load the demo data.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Migrate, load the demo supplier, buyers and catalog, then serve.

    The demo buyers return their carts to /demo/received/..., a page this gateway
    serves in demo mode (what the procurement system received: the cart, the
    document, its DTD check), so a round trip needs nothing else running.

    \b
    Example:
      punchgate demo --port 8080
    """
    from gateway.catalog.loader import load_path
    from gateway.migrate import upgrade
    from provisioning.buyers import load_buyers

    demo_dir = ROOT / "fixtures" / "demo"
    # The demo's return URLs and setup request name port 8000; they follow --port.
    here = f"127.0.0.1:{port}"
    buyers = (demo_dir / "buyers.toml").read_text(encoding="utf-8").replace("127.0.0.1:8000", here)
    settings = Settings.from_env()
    upgrade(settings.database_url)
    gateway = open_gateway()
    with gateway.db.transaction() as session:
        load_buyers(session, demo_dir / "buyers.toml", gateway.box, env={**os.environ}, text=buyers)
    with gateway.db.transaction() as session:
        products = load_path(session, demo_dir / "catalog.csv").products
    setup = demo_dir / "setup-request.xml"
    if port != 8000:
        instance = Path(os.environ.get("PUNCHGATE_INSTANCE_DIR", Path.cwd() / "instance"))
        instance.mkdir(parents=True, exist_ok=True)
        text = setup.read_text(encoding="utf-8").replace("127.0.0.1:8000", here)
        setup = instance / "demo-setup-request.xml"
        setup.write_text(text, encoding="utf-8")
    click.echo(f"demo loaded: {products} products; buyers from {demo_dir / 'buyers.toml'}")
    click.echo(f"try: curl -s -X POST --data-binary @{setup} http://{here}/cxml")
    click.echo(f"carts come back to http://{here}/demo/received/<buyer>/")
    if not no_serve:
        os.environ["PUNCHGATE_DEMO"] = "1"
        click.get_current_context().invoke(
            serve, host=host, port=port, workers=2, production=False, outbox_worker=True
        )
