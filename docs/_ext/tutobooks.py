"""The tutorials in examples/ as a sphinx-gallery.

The tutorials are written as keras.io writes its examples: a module
docstring with `Title:`, `Author:`, `Date created:`, `Last modified:` and
`Description:` lines, then code with prose in `\"\"\"## Section ...\"\"\"`
string cells written in (a small subset of) Markdown. sphinx-gallery reads
reStructuredText from a first docstring and from `# %%` comment blocks, so
`write_gallery_sources` translates each tutorial into that form (the code is
unchanged; keras.io does the same with its `tutobooks` script), and
sphinx-gallery executes the translated copies at build time.

`finish_gallery` keeps the last state of each Keras progress bar in
the captured output: `fit` redraws its bar in place with `\\r`, which a
terminal shows as one line and a web page as hundreds.
"""

import ast
import os
import re

# The gallery's order: one component per tutorial, the memory layers first.
# Tutorials not listed follow, by file name.
ORDER = [
    "memory_layer",
    "product_key_memory",
    "sign_sgd",
    "correlation_norm",
    "set_min_heads",
    "weight_statistics",
    "compress_dense",
    "capacity_sweep",
]

HEADER_FIELDS = (
    "Title",
    "Author",
    "Date created",
    "Last modified",
    "Description",
)

GALLERY_HEADER = """\
Tutorials
=========

Each tutorial teaches one component of ``keras_memnets`` in a small model
of your own, on the MNIST sample that ships with the package, and runs top
to bottom in well under a minute on two CPU cores. They are the files of
``examples/`` in the repository (download one below a page, or all at the
bottom of this one). The pages show the output and figures of a run made
when these docs were built, on the JAX backend; every tutorial also runs on
TensorFlow and PyTorch.

The research notes' experiments, with their verdicts, are the
:doc:`reproductions </reproductions>`.
"""


class TutorialOrder:
    """sphinx-gallery's `within_subsection_order`: `ORDER`, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = os.path.splitext(os.path.basename(filename))[0]
        if name in ORDER:
            return (ORDER.index(name), name)
        return (len(ORDER), name)

    def __repr__(self):
        return f"{type(self).__name__}()"


def parse_header(docstring):
    """`(fields, rest)`: the `Key: value` lines of a keras.io header.

    A line that does not start a known field continues the previous one
    (a long description may wrap); the text after the first blank line
    that follows the fields is returned as `rest`.
    """
    fields = {}
    lines = docstring.strip("\n").splitlines()
    key = None
    for i, line in enumerate(lines):
        match = re.match(r"^([A-Z][A-Za-z ]*):\s*(.*)$", line)
        if match and match.group(1) in HEADER_FIELDS:
            key = match.group(1)
            fields[key] = match.group(2).strip()
        elif not line.strip():
            return fields, "\n".join(lines[i + 1 :]).strip("\n")
        elif key is not None:
            fields[key] += " " + line.strip()
        else:
            raise ValueError(f"Not a keras.io header line: {line!r}")
    missing = [field for field in HEADER_FIELDS if field not in fields]
    if missing:
        raise ValueError(f"The tutorial's header lacks {missing}.")
    return fields, ""


def _inline(text, names=None):
    """Markdown inline markup to reST: links and code spans.

    A code span that is a dotted Python name keeps single backticks (the
    docs' default role links it when it names a documented object); one
    that starts with a key of `names` (`MemoryLayer`, `layers.MemoryLayer`)
    links to that object's page under its short name; any other becomes a
    literal. reST needs a separator around inline markup,
    so `MemoryLayer`s becomes `MemoryLayer`\\ s.
    """

    def replace(match):
        link_text, url, body = match.groups()
        if url is not None:
            rst = f"`{link_text} <{url}>`__"
        elif re.fullmatch(r"[A-Za-z_][\w.]*", body):
            head, _, tail = body.partition(".")
            if names and body in names:
                rst = f"`~{names[body]}`"
            elif names and head in names and tail:
                rst = f"`~{names[head]}.{tail}`"
            else:
                rst = f"`{body}`"
        else:
            rst = f"``{body}``"
        before = match.string[match.start() - 1 : match.start()]
        after = match.string[match.end() : match.end() + 1]
        if before.isalnum():
            rst = "\\ " + rst
        if after.isalnum():
            rst += "\\ "
        return rst

    pattern = re.compile(r"\[([^\]]+)\]\(([^)]+)\)|`([^`]+)`")
    out, end = [], 0
    for match in pattern.finditer(text):
        # `|` starts a substitution in reST: plain text escapes it.
        out.append(text[end : match.start()].replace("|", "\\|"))
        out.append(replace(match))
        end = match.end()
    out.append(text[end:].replace("|", "\\|"))
    return "".join(out)


def markdown_to_rst(text, names=None):
    """The Markdown of a prose cell as reST: headings and inline markup.

    Paragraphs, `-` and `1.` lists (continuation lines indented), `**bold**`
    and `*italic*` are the same in both.
    """
    out = []
    for line in text.strip("\n").splitlines():
        heading = re.match(r"^(#{2,4})\s+(.*)$", line)
        if heading:
            title = _inline(heading.group(2).strip(), names)
            underline = {2: "-", 3: "~", 4: "^"}[len(heading.group(1))]
            out += [title, underline * len(title)]
        else:
            out.append(_inline(line, names))
    return "\n".join(out)


def _comment(rst):
    return "\n".join(f"# {line}" if line else "#" for line in rst.split("\n"))


def to_gallery_script(source, names=None):
    """A keras.io tutorial as a sphinx-gallery script (the same code)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cells = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    if not cells or cells[0] is not tree.body[0]:
        raise ValueError("A tutorial starts with its keras.io header.")
    fields, rest = parse_header(cells[0].value.value)
    title = fields["Title"]
    header = [
        title,
        "=" * len(title),
        "",
        _inline(fields["Description"], names),
    ]
    header += [
        "",
        f"| **Author:** {fields['Author']}",
        f"| **Date created:** {fields['Date created']}",
        f"| **Last modified:** {fields['Last modified']}",
    ]
    if rest:
        header += ["", markdown_to_rst(rest, names)]
    parts = ['"""\n' + "\n".join(header) + '\n"""\n']
    position = cells[0].end_lineno
    for cell in cells[1:] + [None]:
        end = cell.lineno - 1 if cell is not None else len(lines)
        code = "\n".join(lines[position:end]).strip("\n")
        if code:
            parts.append(code + "\n")
        if cell is not None:
            rst = markdown_to_rst(cell.value.value, names)
            parts.append("# %%\n" + _comment(rst) + "\n")
            position = cell.end_lineno
    return "\n".join(parts)


def _write(path, text):
    """Writes only a changed file: sphinx-gallery reruns a changed one."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def public_names(package):
    """`{"MemoryLayer": "keras_memnets.layers.MemoryLayer",
    "layers.MemoryLayer": ..., ...}` from each subpackage's `__all__`; a
    short name exported by two subpackages is left out."""
    import inspect

    names, seen = {}, {}
    for sub in package.__all__:
        module = getattr(package, sub, None)
        if not inspect.ismodule(module):
            continue
        for name in getattr(module, "__all__", ()):
            full = f"{package.__name__}.{sub}.{name}"
            names[f"{sub}.{name}"] = full
            seen.setdefault(name, set()).add(full)
    for name, fulls in seen.items():
        if len(fulls) == 1:
            names[name] = fulls.pop()
    return names


def write_gallery_sources(examples_dir, out_dir, names=None):
    """Translates every `examples/*.py` into `out_dir`, with the header.

    `names`: as `public_names`, for links from code spans in the prose.
    """
    os.makedirs(out_dir, exist_ok=True)
    expected = {"GALLERY_HEADER.rst"}
    for name in sorted(os.listdir(examples_dir)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(examples_dir, name), encoding="utf-8") as f:
            source = f.read()
        try:
            script = to_gallery_script(source, names)
        except ValueError as error:
            raise ValueError(f"examples/{name}: {error}") from None
        _write(os.path.join(out_dir, name), script)
        expected.add(name)
    _write(os.path.join(out_dir, "GALLERY_HEADER.rst"), GALLERY_HEADER)
    for name in os.listdir(out_dir):
        path = os.path.join(out_dir, name)
        if name not in expected and os.path.isfile(path):
            os.remove(path)


def finish_gallery(app, examples_dir):
    """After sphinx-gallery wrote the pages (Sphinx `builder-inited`).

    - Each redrawn output line of `tutorials/*.rst` keeps its last state
      (Sphinx reads sources with universal newlines, which would turn each
      `\\r` into a line break, so this edits the files sphinx-gallery
      wrote).
    - The "Download Python source code" files are the tutorials as written
      in `examples/`, not their translated copies. (sphinx-gallery copies
      the translation again before it compares checksums, so an unchanged
      tutorial is still not run again.)
    """
    gallery = os.path.join(app.srcdir, "tutorials")
    if not os.path.isdir(gallery):
        return
    for name in os.listdir(examples_dir):
        target = os.path.join(gallery, name)
        if name.endswith(".py") and os.path.exists(target):
            with open(os.path.join(examples_dir, name), encoding="utf-8") as f:
                _write(target, f.read())
    for name in os.listdir(gallery):
        if not name.endswith(".rst"):
            continue
        path = os.path.join(gallery, name)
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        if "\r" not in text and "\b" not in text:
            continue
        lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(lines).replace("\b", ""))
