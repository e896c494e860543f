"""trackscope serve: the studio in the browser over a workspace (FastAPI on uvicorn, Jinja2 templates, assets
shipped in the package)."""
