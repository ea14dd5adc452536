"""The HTTP application: ``POST /predict``, ``POST /embed``, ``GET /health``, ``GET /info``.

Every answer is JSON; every refusal is a 4xx with ``{"error": ...}`` (and ``"limit"``
when a limit was passed), never a traceback: a body that does not match the schema is
422 with where it does not; an input that the task cannot read (an empty text, a key it
does not know) is 422 with the task's message.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at run
# time, and /predict's body type is built from the settings inside _routes.
import asyncio
import contextlib
import copy
import logging
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Awaitable, Callable, TypeVar

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException

from nlpkit.errors import NlpkitError
from nlpkit.serve.middleware import AccessLog, BodyLimits, Refused
from nlpkit.serve.metrics import Metrics
from nlpkit.serve.model import ServedModel
from nlpkit.serve.schemas import (
    PREDICT_EXAMPLES, EmbedRequest, EmbedResponse, ErrorBody, Health, Info, embed_texts, predict_body, task_body,
)
from nlpkit.serve.settings import ServeSettings

log = logging.getLogger("nlpkit.serve")
T = TypeVar("T")
PATHS = ("/predict", "/embed", "/health", "/info", "/metrics", "/openapi.json", "/docs")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what} for code, what in (
        (408, "The body took too long to arrive."), (413, "Over a size limit (body bytes, inputs per request)."),
        (415, "The body is not JSON."), (422, "Not the schema, an input over max_chars, or an input the task cannot read."),
        (503, "The model is not loaded (yet)."))
}


def create_app(path: str | Path, settings: ServeSettings | None = None,
               on_failure: Callable[[], None] | None = None) -> Any:
    """The ASGI application serving the run directory or export at ``path``; the model
    loads in the background once the server starts (``/health`` says when it is ready).
    ``on_failure`` is called if it cannot be loaded."""
    settings = settings or ServeSettings()
    metrics = Metrics(PATHS)
    served = ServedModel(Path(path), settings, on_batch=metrics.batch)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(served.start(on_failure))
        yield
        await asyncio.gather(loading, return_exceptions=True)
        await served.stop()

    app = FastAPI(title="nlpkit", summary=f"The model of {Path(path).name}", lifespan=lifespan)
    app.state.served = served
    _errors(app)
    _routes(app, served, settings)
    _task_schema(app, served, settings)

    @app.get("/metrics", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        """Requests by path and status, their latency, inputs per forward pass (Prometheus' text format)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # Outermost first: the access log times everything, the body limits run before routing.
    return AccessLog(BodyLimits(app, settings), metrics)


def _routes(app: FastAPI, served: ServedModel, settings: ServeSettings) -> None:
    PredictBody = predict_body(settings.max_chars, settings.max_inputs)

    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    async def health() -> JSONResponse:
        """Ready (200) once the model is loaded; 503 while it loads or if it failed."""
        body = Health(status=served.status, error=served.error)  # type: ignore[arg-type]
        return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if served.status == "ready" else 503)

    @app.get("/info", response_model=Info, responses=ERRORS)
    async def info() -> dict[str, Any]:
        """The task, its labels, the encoder, versions, precision, engine and limits."""
        _ready(served)
        return served.info

    @app.post("/predict", responses=ERRORS, response_model=dict[str, Any] | list[dict[str, Any]])
    async def predict(request: Request, body: Annotated[PredictBody, Body(openapi_examples=PREDICT_EXAMPLES)]) -> Any:
        """One input (a text, or named fields) gives one prediction; a list gives a list,
        in order (an item of a list may also be a list of texts: a pair)."""
        _ready(served)
        single = not isinstance(body, list)
        inputs: list[Any] = [body] if single else [tuple(i) if isinstance(i, list) else i for i in body]
        _check_sizes(inputs, settings)
        examples = _examples(served, inputs)
        results = await _unless_gone(request, served.predictions.submit(examples, [_chars(i) for i in inputs]))
        return results[0] if single else results

    if served.can_embed:
        @app.post("/embed", response_model=EmbedResponse, responses=ERRORS)
        async def embed(request: Request, body: EmbedRequest) -> Any:
            """Sentence embeddings from the model's encoder: one vector per text."""
            _ready(served)
            texts = [body.texts] if isinstance(body.texts, str) else body.texts
            _check_sizes(texts, settings)
            blank = next((i for i, text in enumerate(texts) if not text.strip()), None)
            if blank is not None:
                raise Refused(422, f"texts[{blank}] is empty or only whitespace: there is nothing to embed")
            items = [(text, body.pooling, body.normalize) for text in texts]
            vectors = await _unless_gone(request, served.embeddings.submit(items, [len(t) for t in texts]))
            return EmbedResponse(embeddings=vectors, dimension=served.info["embedding_dimension"],
                                 pooling=body.pooling, normalized=body.normalize)


def _task_schema(app: FastAPI, served: ServedModel, settings: ServeSettings) -> None:
    """The served schema: the limits on /embed's texts and, once the model is loaded,
    which inputs its task reads (``Task.input_schemas``); until then, the shape every
    task shares."""
    generic = app.openapi

    def openapi() -> dict[str, Any]:
        schema = copy.deepcopy(generic())
        if "EmbedRequest" in schema["components"]["schemas"]:
            texts = embed_texts(settings.max_chars, settings.max_inputs)
            schema["components"]["schemas"]["EmbedRequest"]["properties"]["texts"] = texts
        shapes = served.predictor.task.input_schemas() if served.predictor is not None else None
        if shapes:
            body = task_body(shapes, settings.max_chars, settings.max_inputs)
            schema["paths"]["/predict"]["post"]["requestBody"]["content"] = {"application/json": {"schema": body}}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _ready(served: ServedModel) -> None:
    if served.status != "ready":
        raise Refused(503, f"the model is not ready ({served.status}{': ' + served.error if served.error else ''})")


def _check_sizes(inputs: list[Any], settings: ServeSettings) -> None:
    if len(inputs) > settings.max_inputs:
        raise Refused(413, f"{len(inputs):,} inputs in one request; the limit is {settings.max_inputs:,}", "max_inputs")
    for index, value in enumerate(inputs):
        longest = max(_lengths(value), default=0)
        if longest > settings.max_chars:
            raise Refused(422, f"input {index} has a text of {longest:,} characters; the limit is "
                          f"{settings.max_chars:,}", "max_chars")


def _lengths(value: Any) -> list[int]:
    """The length of each text of an input."""
    if isinstance(value, str):
        return [len(value)]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return [n for item in items for n in _lengths(item)]


def _chars(value: Any) -> int:
    """The characters of an input's texts, all together: its size, for batching by length."""
    return sum(_lengths(value))


def _examples(served: ServedModel, inputs: list[Any]) -> list[Any]:
    """The task's examples, or 422 with the task's message for an input it cannot read."""
    from nlpkit.predictor import check_inputs

    assert served.predictor is not None
    try:
        check_inputs(inputs, single=len(inputs) == 1)
        return served.predictor.examples_from_inputs(inputs)
    except NlpkitError as exc:
        raise Refused(422, str(exc)) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # a plugin's reading of a shape it did not expect
        raise Refused(422, f"task {served.info['task']} cannot read this input ({type(exc).__name__}: {exc})") from None


async def _unless_gone(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result; if the client disconnects first, ``work`` is cancelled (its
    inputs leave the batch queue) and the request ends without an answer."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not task.done():
        task.cancel()
        raise Refused(499, "the client closed the connection")
    return task.result()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


SHAPES = {
    "/predict": "a text, an object whose values are texts (or lists of texts), or a list of those",
    "/embed": '{"texts": a text or a list of texts, "pooling": "mean" or "cls", "normalize": true or false}',
}
"""What a route's body is, for messages where the schema's own would list every branch of a union."""


def _schema_message(path: str, errors: Any) -> str:
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        return f"the body is not valid JSON{': ' + str(reason) if reason else ''}"
    if path in SHAPES:
        return f"the body does not have the shape {path} takes: {SHAPES[path]}"
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"the body does not match the schema at {where}: {first.get('msg', 'invalid')}"


def _errors(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(ErrorBody(error=str(exc), limit=exc.limit).model_dump(exclude_none=True), exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Without the offending input: it may be a megabyte.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()[:20]]
        message = _schema_message(request.url.path, exc.errors())
        return JSONResponse(ErrorBody(error=message, errors=errors).model_dump(exclude_none=True), 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc, exc_info=exc)
        return JSONResponse({"error": f"the model failed on this request ({type(exc).__name__}: {exc})"}, 500)
