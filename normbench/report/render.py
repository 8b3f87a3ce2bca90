"""The report as a list of blocks (headings, paragraphs, tables, figures), rendered twice: report.md
(figures by relative path) and a self-contained report.html (figures inlined, CSS inline, no external
resources). Building the blocks once keeps the two documents identical in content."""

import base64
import html
from dataclasses import dataclass, field

FORMATS = ("png", "svg")  # the figure formats written by default
FIGURE_FORMATS = ("png", "svg", "pdf")  # those that may be asked for (matplotlib draws each)


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list


@dataclass
class Table:
    header: list
    rows: list  # lists of cell strings
    bold: set = field(default_factory=set)  # (row, column) cells to emphasise (best value of a column)


@dataclass
class Image:
    title: str
    caption: str
    path: str  # relative to the report, for report.md
    png: bytes | None = None  # inlined in report.html
    svg: str | None = None  # inlined when no PNG was made


# --- Markdown ----------------------------------------------------------------------------------------

def to_markdown(blocks) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            parts.append(_markdown_table(block))
        elif isinstance(block, Image):
            parts.append(f"**{block.title}**\n\n![{block.title}]({block.path})\n\n*{block.caption}*")
    return "\n\n".join(parts) + "\n"


def _markdown_table(table: Table) -> str:
    def cell(text, row=None, column=None) -> str:
        text = str(text).replace("|", "\\|").replace("\n", " ")
        return f"**{text}**" if (row, column) in table.bold and text else text

    lines = ["| " + " | ".join(cell(text) for text in table.header) + " |",
             "|" + "|".join("---" for _ in table.header) + "|"]
    lines += ["| " + " | ".join(cell(text, r, c) for c, text in enumerate(row)) + " |"
              for r, row in enumerate(table.rows)]
    return "\n".join(lines)


# --- plain text (a terminal) ----------------------------------------------------------------------------

def to_text(blocks) -> str:
    """Headings, paragraphs and tables with aligned columns, for a terminal (figures are left out)."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(block.text)
        elif isinstance(block, Paragraph):
            parts.append(block.text.replace("`", ""))
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"  - {item}" for item in block.items))
        elif isinstance(block, Table):
            parts.append(text_table(block))
    return "\n\n".join(parts) + "\n"


def text_table(table: Table) -> str:
    """Columns padded to their widest cell, the header underlined; bold cells marked with a trailing `*`."""
    rows = [[str(text) for text in table.header]]
    rows += [[f"{text}*" if (r, c) in table.bold and text else str(text) for c, text in enumerate(row)]
             for r, row in enumerate(table.rows)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(table.header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# --- LaTeX (the tables only) ------------------------------------------------------------------------------

# Characters of the report's cells that pdflatex's utf8 input does not know, as LaTeX (after escaping).
LATEX_SYMBOLS = {"±": r"$\pm$", "−": r"$-$", "†": r"\textsuperscript{\dag}", "×": r"$\times$", "→": r"$\to$",
                 "β": r"$\beta$", "Δ": r"$\Delta$", "‖": r"$\|$", "·": r"$\cdot$"}
LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def to_latex(blocks) -> str:
    """Every table of the report as a booktabs LaTeX table (\\toprule, \\midrule, \\bottomrule; pandas' Styler),
    captioned by the heading above it; bold cells in \\bfseries. Needs \\usepackage{booktabs}."""
    parts = ["% normbench report tables: \\usepackage{booktabs} in the preamble; \\input{tables.tex} where they go."]
    caption = "normbench report"
    for block in blocks:
        if isinstance(block, Heading):
            caption = block.text
        elif isinstance(block, Table):
            parts.append(latex_table(block, caption, f"tab:normbench-{len(parts)}"))
    return "\n\n".join(parts) + "\n"


def latex_table(table: Table, caption: str, label: str) -> str:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame([[str(cell) for cell in row] for row in table.rows], columns=list(table.header))
    bold = np.full(frame.shape, "", dtype=object)
    for row, column in table.bold:
        bold[row, column] = "font-weight: bold;"
    styler = (frame.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
              .apply(lambda _: bold, axis=None))
    text = styler.to_latex(hrules=True, caption=latex_escape(caption), label=label, position="htbp",
                           convert_css=True)
    for symbol, command in LATEX_SYMBOLS.items():
        text = text.replace(symbol, command)
    return text


def latex_escape(text: str) -> str:
    """Text for LaTeX outside a table cell (a caption): its special characters escaped."""
    return "".join(LATEX_SPECIALS.get(char, char) for char in str(text).replace("`", ""))


# --- CSV -------------------------------------------------------------------------------------------------

# A cell beginning with one of these is run as a formula by spreadsheet applications (`=`, `+`, `-`, `@`), or
# hides what follows it (tab, carriage return). Run directories are data anyone may have written.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value):
    """A string cell that a spreadsheet would run as a formula, with a single quote before it (OWASP's advice for
    CSV injection); numbers, and strings that read as a plain number (`-0.5`), as they are."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def to_csv(frame) -> bytes:
    """Every CSV the report exports, its string cells made inert for spreadsheets (spreadsheet_cell)."""
    from pandas.api.types import CategoricalDtype, is_object_dtype, is_string_dtype

    safe = frame.copy()
    for column, dtype in frame.dtypes.items():
        if is_object_dtype(dtype) or is_string_dtype(dtype) or isinstance(dtype, CategoricalDtype):
            safe[column] = frame[column].astype(object).map(spreadsheet_cell)
    return safe.to_csv(index=False).encode()


# --- HTML --------------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #0072B2; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h3 { margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .86rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f4f7; }
tr:nth-child(even) td { background: #fafafa; }
td.best { font-weight: 700; }
.verdict-supported { color: #006d2c; font-weight: 600; }
.verdict-contradicted { color: #b30000; font-weight: 600; }
.verdict-inconclusive { color: #7a5c00; }
.verdict-not-covered { color: #777; }
figure { margin: 1.2rem 0; }
figure img, figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
code { background: #f2f4f7; padding: 0 .2rem; }
"""


def to_html(blocks, title: str) -> str:
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Image):
            body.append(_html_figure(block))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _inline(text: str) -> str:
    """Escape, then turn the Markdown `code` spans used in paragraphs into <code>."""
    pieces = html.escape(str(text)).split("`")
    return "".join(f"<code>{piece}</code>" if index % 2 else piece for index, piece in enumerate(pieces))


def _html_table(table: Table) -> str:
    header = "".join(f"<th>{html.escape(str(text))}</th>" for text in table.header)
    rows = []
    for r, row in enumerate(table.rows):
        cells = []
        for c, text in enumerate(row):
            classes = []
            if (r, c) in table.bold:
                classes.append("best")
            if str(table.header[c]).lower() == "verdict":
                classes.append("verdict-" + str(text).replace(" ", "-"))
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attribute}>{_inline(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"


def _html_figure(image: Image) -> str:
    if image.png is not None:
        data = base64.b64encode(image.png).decode("ascii")
        content = f'<img alt="{html.escape(image.title)}" src="data:image/png;base64,{data}">'
    elif image.svg is not None:
        content = _strip_xml_prolog(image.svg)
    else:  # drawn as PDF only: a browser shows it from the file beside the report
        content = f'<a href="{html.escape(image.path)}">{html.escape(image.path)}</a>'

    return (f"<figure>\n<h4>{html.escape(image.title)}</h4>\n{content}\n"
            f"<figcaption>{html.escape(image.caption)}</figcaption>\n</figure>")


def _strip_xml_prolog(svg: str) -> str:
    """An inline <svg> must not carry the XML declaration or DOCTYPE of a standalone file."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
