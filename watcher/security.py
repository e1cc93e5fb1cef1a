"""Checks made before any file is read: XML is parsed only with defusedxml's protections."""

from __future__ import annotations

import importlib.util
import os


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
    if importlib.util.find_spec("openpyxl") is not None:
        import openpyxl

        if not getattr(openpyxl, "DEFUSEDXML", False):
            raise UnsafeSetup("openpyxl 没有启用 defusedxml 防护")
