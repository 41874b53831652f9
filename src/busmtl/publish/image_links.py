"""A Sphinx extension that links every image of the book to its full-size file.

Sphinx links an image to its file only when the page gives the image a size (``:width:``,
``:scale:``); the book's figures are matplotlib outputs shown at the text width, often smaller
than they were drawn, so a reader who wants the detail clicks the image. :func:`link_images`
wraps each image that no link holds yet in a link to the copy Sphinx writes under ``_images/``.
"""

from __future__ import annotations

import posixpath
from typing import Any

from docutils import nodes


def image_file(env: Any, node: nodes.image) -> str | None:
    """The name under ``_images/`` that Sphinx gives the image of ``node`` (``None`` for a
    remote or inline image)."""
    for candidate in [*node.get("candidates", {}).values(), node.get("uri", "")]:
        if candidate in env.images:
            return env.images[candidate][1]
    return None


def link_images(app: Any, doctree: nodes.document, docname: str) -> None:
    """Wrap every image of the page that is not inside a link in a link to its file."""
    from sphinx.util.osutil import relative_uri

    if app.builder.format != "html":
        return
    base = relative_uri(app.builder.get_target_uri(docname), app.builder.imagedir)
    for node in list(doctree.findall(nodes.image)):
        if isinstance(node.parent, nodes.reference):
            continue
        name = image_file(app.env, node)
        if name is None:
            continue
        link = nodes.reference("", "", internal=True, refuri=posixpath.join(base, name),
                               classes=["image-reference"])
        node.replace_self(link)
        link.append(node)


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-resolved", link_images)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
