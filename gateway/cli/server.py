"""``punchgate serve`` and ``punchgate demo``: run the gateway."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from gateway.cli.output import open_gateway
from gateway.config import Settings

# The checkout (or installed tree) holding wsgi.py and fixtures/.
ROOT = Path(__file__).resolve().parent.parent.parent


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--outbox-worker", is_flag=True, help="Also run the outbox worker beside gunicorn.")
def serve(host: str, port: int, workers: int, outbox_worker: bool) -> None:
    """Serve with gunicorn (production server).

    \b
    Example:
      punchgate serve --host 0.0.0.0 --port 8000 --workers 4 --outbox-worker
    """
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        # %(U)s is the path without the query string: OCI logins arrive as GET
        # parameters (USERNAME/PASSWORD), which must never reach a log.
        "--access-logformat",
        '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"',
        "--max-requests",
        "5000",
        "--max-requests-jitter",
        "500",
        "wsgi:app",
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # Without a public URL configured, StartPage links point at the bound address.
    env.setdefault("PUNCHGATE_BASE_URL", f"http://{host}:{port}")
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
    from gateway.marketplace.catalog import load_catalog
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
        products, _ = load_catalog(session, demo_dir / "catalog.csv")
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
            serve, host=host, port=port, workers=2, outbox_worker=True
        )
