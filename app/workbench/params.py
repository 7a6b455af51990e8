"""Which context values a template uses, read from its Jinja syntax tree, with their lines.

`used_paths` answers dotted paths (`appointment.location.online_url`, `bill.usage`) rooted in
the context, leaving out the template's own names (loop variables, `set`, macro arguments)
and the environment's globals (`_`, `range`, ...). Lint compares them with the parameters a
component declares in its component.json.
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

# Names Jinja gives every template (besides the environment's globals).
IMPLICIT = {"loop", "caller", "varargs", "kwargs", "self", "super", "true", "false", "none",
            "True", "False", "None"}


def _bound_names(tree: nodes.Template) -> set[str]:
    return {name.name for name in tree.find_all(nodes.Name) if name.ctx in {"store", "param"}}


def _chain(node: nodes.Node) -> tuple[str | None, list[nodes.Node]]:
    """The dotted path of a Getattr/Getitem chain ending in a Name, and the subscripts in it
    that are expressions of their own (`items[index]`: `index` is used too)."""
    parts: list[str] = []
    inner: list[nodes.Node] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                parts.append(node.arg.value)
            else:
                # `bill.usage[-6:]`, `items[0].name`: the path stops at the container.
                parts.clear()
                inner.append(node.arg)
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return ".".join(reversed(parts)), inner
        else:
            return None, inner


def used_paths(tree: nodes.Template, ignore: set[str] | frozenset[str] = frozenset()) -> dict[str, int]:
    """Every context path the template reads, with the first line that reads it."""
    local = _bound_names(tree) | IMPLICIT | set(ignore)
    found: dict[str, int] = {}

    def visit(node: nodes.Node) -> Iterator[None]:
        readable = isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name)
        if readable and getattr(node, "ctx", "load") == "load":
            path, inner = _chain(node)
            if path is not None:
                if path.split(".", 1)[0] not in local:
                    found.setdefault(path, node.lineno)
                for sub in inner:
                    yield from visit(sub)
                return
        for child in node.iter_child_nodes():
            yield from visit(child)

    for _ in visit(tree):
        pass
    return found


def covers(declared: str, used: str) -> bool:
    """A declared parameter answers for a path that is it, inside it, or a container of it
    (`{% if appointment.advisor %}` reads the container of `appointment.advisor.name`)."""
    return used == declared or used.startswith(declared + ".") or declared.startswith(used + ".")


def uses(used: str, declared: str) -> bool:
    """A path reads the declared parameter itself or something inside it."""
    return used == declared or used.startswith(declared + ".")
