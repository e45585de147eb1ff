"""`python app.py`: the paperchat web chat (the UI lives in rag.ui)."""

from rag.ui import serve

if __name__ == "__main__":
    serve()
