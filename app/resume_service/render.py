"""Render a resume to HTML or Markdown (pure Python, no template engine)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

SUPPORTED_FORMATS = ("html", "markdown")


class UnsupportedFormatError(ValueError):
    """The job asks for a format this worker cannot produce (a poison message)."""


def _period(item: Mapping[str, Any]) -> str:
    start = item.get("start_date") or ""
    end = item.get("end_date") or ("present" if start else "")
    return f"{start} - {end}" if start else str(end)


def _contact_items(contact: Mapping[str, Any]) -> list[str]:
    return [str(contact[k]) for k in ("email", "phone", "location", "website") if contact.get(k)]


def render_markdown(resume: Mapping[str, Any]) -> str:
    def esc(value: Any) -> str:
        text = str(value)
        for ch in "\\`*_{}[]<>#|":
            text = text.replace(ch, "\\" + ch)
        return text

    contact = resume.get("contact") or {}
    sections = resume.get("sections") or {}
    out = [f"# {esc(resume['name'])}", ""]
    if resume.get("headline"):
        out += [f"**{esc(resume['headline'])}**", ""]
    items = _contact_items(contact)
    if items:
        out += [" · ".join(esc(i) for i in items), ""]
    if resume.get("summary"):
        out += ["## Summary", "", esc(resume["summary"]), ""]
    if sections.get("experience"):
        out += ["## Experience", ""]
        for exp in sections["experience"]:
            out.append(f"### {esc(exp['title'])}, {esc(exp['company'])} ({_period(exp)})")
            if exp.get("description"):
                out += ["", esc(exp["description"])]
            out.append("")
    if sections.get("education"):
        out += ["## Education", ""]
        for edu in sections["education"]:
            period = _period(edu)
            suffix = f" ({period})" if period else ""
            out.append(f"- {esc(edu['degree'])}, {esc(edu['institution'])}{suffix}")
        out.append("")
    if sections.get("skills"):
        out += ["## Skills", "", ", ".join(esc(s) for s in sections["skills"]), ""]
    return "\n".join(out).rstrip() + "\n"


def render_html(resume: Mapping[str, Any]) -> str:
    e = html.escape
    contact = resume.get("contact") or {}
    sections = resume.get("sections") or {}
    body = [f"<h1>{e(resume['name'])}</h1>"]
    if resume.get("headline"):
        body.append(f'<p class="headline">{e(resume["headline"])}</p>')
    items = _contact_items(contact)
    if items:
        body.append('<ul class="contact">' + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>")
    if resume.get("summary"):
        body.append(f"<section><h2>Summary</h2><p>{e(resume['summary'])}</p></section>")
    if sections.get("experience"):
        parts = ["<section><h2>Experience</h2>"]
        for exp in sections["experience"]:
            parts.append(
                f"<article><h3>{e(exp['title'])}, {e(exp['company'])}</h3>"
                f'<p class="period">{e(_period(exp))}</p>'
                f"<p>{e(exp.get('description') or '')}</p></article>"
            )
        parts.append("</section>")
        body.append("".join(parts))
    if sections.get("education"):
        lis = "".join(
            f"<li>{e(edu['degree'])}, {e(edu['institution'])} {e(_period(edu))}</li>"
            for edu in sections["education"]
        )
        body.append(f"<section><h2>Education</h2><ul>{lis}</ul></section>")
    if sections.get("skills"):
        lis = "".join(f"<li>{e(s)}</li>" for s in sections["skills"])
        body.append(f'<section><h2>Skills</h2><ul class="skills">{lis}</ul></section>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(resume['name'])}</title></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "html": render_html,
    "markdown": render_markdown,
}


def render(resume: Mapping[str, Any], fmt: str) -> str:
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise UnsupportedFormatError(f"unsupported export format: {fmt!r}") from None
    return renderer(resume)
