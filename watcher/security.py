"""Checks made before any file is read: XML is parsed only with defusedxml's protections."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path


class UnsafeSetup(Exception):
    pass


def assert_safe_xml() -> None:
    """defusedxml is a hard dependency: every XML parser watcher (and openpyxl, if present) uses goes through it."""
    if importlib.util.find_spec("defusedxml") is None:
        raise UnsafeSetup(
            "缺少 defusedxml：没有它，XML 实体攻击（XXE、十亿笑声）无法防范。请运行 pip install defusedxml"
        )
    from .io import reader

    if not reader.SafeET.__name__.startswith("defusedxml"):
        raise UnsafeSetup("读取工作簿时没有使用 defusedxml 解析 XML")
    flag = os.environ.get("OPENPYXL_DEFUSEDXML")
    if flag is not None and flag != "True":
        raise UnsafeSetup("环境变量 OPENPYXL_DEFUSEDXML 关闭了 openpyxl 的 XML 防护，请删除该变量")
    if not _openpyxl_defused(flag):
        raise UnsafeSetup("openpyxl 没有启用 defusedxml 防护")


def _openpyxl_defused(flag: str | None) -> bool:
    """openpyxl, if installed, parses XML through defusedxml: its rule (openpyxl/xml/__init__.py: defusedxml
    importable and OPENPYXL_DEFUSEDXML, default "True", equal to "True"), read from its source without
    importing it (an import costs the service 0.15 s at every start). A version whose rule cannot be
    read is imported and asked."""
    spec = importlib.util.find_spec("openpyxl")
    if spec is None:
        return True
    for folder in spec.submodule_search_locations or ():
        try:
            source = (Path(folder) / "xml" / "__init__.py").read_text(encoding="utf-8")
        except OSError:
            continue
        rule = _RULE.search(source)
        if rule is not None and "DEFUSEDXML = defusedxml_available() and defusedxml_env_set()" in source:
            return (flag if flag is not None else rule.group(1)) == "True"
    import openpyxl

    return bool(getattr(openpyxl, "DEFUSEDXML", False))


_RULE = re.compile(r"""os\.environ\.get\(\s*["']OPENPYXL_DEFUSEDXML["']\s*,\s*["'](\w+)["']\s*\)\s*==\s*["']True["']""")
