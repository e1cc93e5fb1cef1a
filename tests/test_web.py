"""The self-service lookup page through the real thing: `watcher web` as a subprocess on a free port,
real HTTP requests, and Chromium (the distribution's package) driven by Selenium."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import (
    chromium,
    fake,
    free_port,
    future,
    issue_fields,
    need,
    people,
    post,
    result,
    run_watcher,
    serving,
    wait_for,
    write_request,
)

from watcher.domain.throttle import ClientState, Rules, after_failure, verdict
from watcher.web.app import client_address

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@contextmanager
def web(root: Path, *extra: str, env: dict | None = None):
    port = free_port()
    env = {**os.environ, "PYTHONUTF8": "1", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "web", "--root", str(root), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except urllib.error.HTTPError:  # up, and saying the ledger cannot serve (a test of that)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(
                        "watcher web did not start: " + (proc.stdout.read() if proc.poll() is not None else "")
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_throttle_rules():
    rules = Rules(slow_after=5, lock_after=10, window_seconds=600, lock_seconds=900)
    state = ClientState()
    for i in range(4):
        state = after_failure(state, 1000 + i, rules)
    assert verdict(state, 1010, rules).delay == 0
    state = after_failure(state, 1005, rules)
    assert verdict(state, 1010, rules).delay == 1  # slowed after 5 failures
    assert verdict(state, 1000 + 600 + 10, rules).delay == 0, "old failures leave the window"
    for i in range(5):
        state = after_failure(state, 1006 + i, rules)
    v = verdict(state, 1011, rules)
    assert v.refused_until == 1010 + 900  # refused for 15 minutes from the 10th failure
    assert v.wait(1011) == 899
    assert verdict(state, 1010 + 900, rules).refused_until == 0


def test_a_policy_number_pasted_from_a_chat_is_read_as_typed():
    """A zero-width space copied out of a chat, or the number written in groups with dashes, gave 未查到."""
    from watcher.web.app import normalise_policy_no

    for pasted in (
        "LY2026\u200b12020000001",
        "ly 2026-1202-0000001",
        "ＬＹ２０２６１２０２００００００１\u2060",
        "LY—202612020000001",
    ):
        assert normalise_policy_no(pasted) == "LY202612020000001", pasted


def test_slowed_means_answered_at_once_with_when_to_come_back():
    rules = Rules(slow_after=2, lock_after=4, window_seconds=600, lock_seconds=900)
    state = after_failure(after_failure(ClientState(), 1000, rules), 1001, rules)
    v = verdict(state, 1001.2, rules)
    assert v.retry_at == 1002 and v.wait(1001.2) == 1, "too soon: 429, Retry-After 1"
    assert verdict(state, 1002, rules).wait(1002) == 0, "after the delay the lookup is served"
    state = after_failure(state, 1002, rules)
    assert verdict(state, 1002, rules).wait(1002) == 2
    # A policy number is slowed, never refused, however many addresses fail on it.
    policy = Rules(slow_after=20, lock_after=None, window_seconds=600, lock_seconds=0, max_delay=5)
    state = ClientState()
    for i in range(500):
        state = after_failure(state, 1000 + i * 0.01, policy)
    v = verdict(state, 1005, policy)
    assert v.refused_until == 0 and v.wait(1005) <= 5 and len(state.failures) <= 25


def test_the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy():
    import ipaddress

    trusted = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_address({"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, trusted) == "203.0.113.9"
    assert (
        client_address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7, 10.0.0.9"}, trusted)
        == "198.51.100.7"
    ), "the last address the trusted proxies did not add"
    assert client_address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, []) == "10.0.0.2"
    # An IPv6 client is counted by its /64: each of its addresses had a lock-out allowance of its own (attack P).
    one = client_address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "2001:db8:1:2::1"}, trusted)
    other = client_address({"REMOTE_ADDR": "2001:db8:1:2:ffff::9"}, [])
    assert one == other == "2001:db8:1:2::/64"
    assert client_address({"REMOTE_ADDR": "2001:db8:1:3::1"}, []) != one
    assert client_address({"REMOTE_ADDR": "::ffff:203.0.113.9"}, []) == "203.0.113.9"


def test_trusting_every_address_is_refused_at_start(root):
    """web_trusted_proxies = ["0.0.0.0/0"] started the page silently: every client then chose its own address
    in X-Forwarded-For and no per-address limit held."""
    for everyone in ("0.0.0.0/0", "::/0", "0.0.0.0/1", "::ffff:0:0/96"):
        (root / "watcher.toml").write_text(f'web_trusted_proxies = ["{everyone}"]\n', encoding="utf-8")
        proc = run_watcher(root, "web", "--port", str(free_port()), check=False)
        assert proc.returncode == 1 and "信任的地址太多" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_headers_uniform_answer_normalised_input_and_nothing_in_logs(desk):
    root = desk["root"]
    with web(root) as base:
        with urllib.request.urlopen(base + "/") as response:
            page = response.read().decode()
            headers = dict(response.headers)
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
        assert "no-store" in headers["Cache-Control"] and headers["X-Content-Type-Options"] == "nosniff"
        assert (
            'method="post"' in page and 'for="id_type"' in page and 'for="policy_no"' in page and 'for="id_no"' in page
        )
        assert "<script" not in page

        # Found, with the input typed the way people type: lower case, spaces, full-width digits, a lower-case x.
        messy_id = " ".join(desk["id"]).replace("0", "０").lower()
        status, headers, body, _ = post(
            base,
            "10.0.0.1",
            id_type="身份证",
            policy_no=desk["live"].lower()[:6] + " " + desk["live"][6:],
            id_no=messy_id,
        )
        assert status == 200 and 'id="result"' in body and "no-store" in headers["Cache-Control"]
        assert desk["id"] not in body and desk["id"][:3] + "*" in body and desk["id"][-4:] in body
        assert "有效" in body and "300,000.00" in body and "5.00 元" in body
        assert 'id="void-cover"' not in body and "line-through" not in body
        # Its cover starts in ten days: the green 有效 says so, so nobody takes it for cover in force now.
        assert 'id="not-started"' in body and "保障尚未开始" in body
        # Pasted from a spreadsheet with its tab and line break: folded like spaces, not 请求无效.
        status, _, body, _ = post(
            base, "10.0.0.2", id_type="身份证", policy_no=desk["live"] + "\r\n", id_no=desk["id"] + "\t"
        )
        assert status == 200 and 'id="result"' in body, body[-300:]

        # Every kind of mismatch gets the very same answer. The rounds take turns on four policies: a
        # policy number failed on 20 times in a few seconds is slowed (429), whatever the address.
        answers = {}
        policies = [
            (desk["live"], desk["id"], desk["other_id"]),
            (desk["cancelled"], desk["other_id"], desk["id"]),
            (desk["replaced"], desk["kept_id"], desk["id"]),
            (desk["replacement"], desk["kept_id"], desk["id"]),
        ]
        times: dict[str, list[float]] = {}
        for round_ in range(15):
            number, on_it, not_on_it = policies[round_ % len(policies)]
            cases = {
                "unknown policy": dict(policy_no=f"LY20260101000{round_:04d}", id_no=on_it),
                "wrong number": dict(policy_no=number, id_no="110101199003070011"),
                "wrong type": dict(policy_no=number, id_no=on_it, id_type="护照"),
                "not on this policy": dict(policy_no=number, id_no=not_on_it),
            }
            for i, (kind, fields) in enumerate(cases.items()):
                fields = {"id_type": "身份证", **fields}
                status, _, body, took = post(base, f"10.1.{round_}.{i}", **fields)
                answers.setdefault(kind, set()).add(body)
                times.setdefault(kind, []).append(took)
                assert status == 200 and 'id="not-found"' in body
        bodies = {kind: next(iter(found)) for kind, found in answers.items()}
        assert all(len(found) == 1 for found in answers.values())
        assert len(set(bodies.values())) == 1, "the same answer for every mismatch"
        medians = {k: statistics.median(v) for k, v in times.items()}
        assert max(medians.values()) - min(medians.values()) < 0.01, medians
    log = (root / "logs" / "watcher.log").read_text(encoding="utf-8")
    assert "POST / 200" in log
    for secret in (desk["id"], desk["live"], desk["other_id"], "110101199003070011"):
        assert secret not in log


def test_repeated_failures_are_slowed_then_refused_and_say_when(desk):
    def fail():
        return post(base, "10.9.9.9", id_type="身份证", policy_no="LY202601010009999", id_no=desk["id"])

    with web(desk["root"]) as base:
        for _ in range(2):
            status, _, body, took = fail()
            assert status == 200 and 'id="not-found"' in body and took < 0.5
        # Slowed after 2 failures: asked at once to come back after 1 s, then 2 s; never made to wait.
        for delay in (1, 2):
            status, headers, body, took = fail()
            assert status == 429 and headers["Retry-After"] == str(delay) and took < 0.5, (status, headers, took)
            assert 'id="slowed"' in body and f">{delay}</strong> 秒后再试" in body and 'id="policy_no"' in body
            time.sleep(delay)
            status, _, body, _ = fail()
            assert status == 200 and 'id="not-found"' in body
        assert "后再试" in body  # the 4th failure says the client is now refused, and until when
        status, headers, body, _ = post(base, "10.9.9.9", id_type="身份证", policy_no=desk["live"], id_no=desk["id"])
        assert status == 429 and int(headers["Retry-After"]) > 800 and 'id="refused"' in body and "后再试" in body
        assert 'id="result"' not in body, "refused even with the right answer"
        status, _, body, _ = post(base, "10.9.9.8", id_type="身份证", policy_no=desk["live"], id_no=desk["id"])
        assert status == 200 and 'id="result"' in body, "another client is not affected"
    # The refusal is kept where every web process of the root sees it: a restart does not lift it.
    with web(desk["root"]) as base:
        status, _, _, _ = post(base, "10.9.9.9", id_type="身份证", policy_no=desk["live"], id_no=desk["id"])
        assert status == 429


def test_the_page_reads_the_ledger_while_the_service_writes_it(desk):
    root = desk["root"]
    (root / "watcher.toml").write_text("settle_seconds = 0.5\nrescan_seconds = 1\n", encoding="utf-8")
    with web(root) as base, serving(root):
        write_request(root / "workbooks/GZ001/团C.xlsx", issue_fields(旅行团号="GZ-T003"), people(8)[5:])
        wait_for(lambda: (root / "outbox/GZ001/团C_结果.json").exists(), 30, "the new policy")
        number = result(root, "GZ001", "团C_结果")[0]["policies"][0]["policy_no"]
        status, _, body, _ = post(base, None, id_type="身份证", policy_no=number, id_no=people(8)[5][3])
        assert status == 200 and 'id="result"' in body


# --- in a real browser -------------------------------------------------------------------------


@pytest.fixture
def browser():
    """Headless Chromium (the distribution's package) driven by Selenium, sized like a phone; skipped
    where Chromium or its driver is missing (a failure under CI=true)."""
    found = chromium()
    need(found, "Chromium (with chromedriver)")
    from selenium import webdriver

    binary, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=zh-CN"):
        options.add_argument(arg)
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0}}
    )
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def lookup(driver, base: str, id_type: str, policy_no: str, id_no: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.get(base + "/")
    Select(driver.find_element(By.ID, "id_type")).select_by_visible_text(id_type)
    driver.find_element(By.ID, "policy_no").send_keys(policy_no)
    driver.find_element(By.ID, "id_no").send_keys(id_no)
    old = driver.find_element(By.TAG_NAME, "main")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 15).until(lambda _: gone(old))  # the answer page has replaced the form


def gone(element) -> bool:
    """Whether the element left the document. Chrome says so either as a stale reference or, when the
    page is replaced mid-call, as "Node with given id does not belong to the document"."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def test_in_a_browser_found_not_found_cancelled_and_locked_out(desk, browser):
    from selenium.webdriver.common.by import By

    with web(desk["root"]) as base:
        lookup(browser, base, "身份证", desk["live"], desk["id"].lower())
        assert browser.find_element(By.ID, "status").text == "有效"
        assert browser.find_element(By.ID, "policy-no").text == desk["live"]
        masked = browser.find_element(By.ID, "masked-id").text
        assert masked.startswith(desk["id"][:3]) and masked.endswith(desk["id"][-4:]) and "*" in masked
        cover = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#coverages tbody tr")]
        assert cover[0].startswith("意外身故、残疾") and cover[0].endswith("300,000.00")
        assert browser.find_element(By.ID, "premium").text == "5.00 元"
        assert browser.current_url == base + "/", "nothing about the person in the URL"
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"no sideways scrolling on a phone: {width}"
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "lookup_found_phone.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        # The masked number stays on one line at a phone's width (it wrapped as "…057 / 7").
        assert browser.find_element(By.ID, "masked-id").value_of_css_property("white-space") == "nowrap"

        lookup(browser, base, "身份证", desk["cancelled"], desk["other_id"])
        assert browser.find_element(By.ID, "status").text == "已撤单"
        assert browser.find_element(By.ID, "cancelled").text.startswith("本保单已撤单")
        # Its cover and premium as they were, never read as cover in force: said so where they stand, and
        # the table struck through (a reader skimming to the table took it for cover).
        assert "不再有效" in browser.find_element(By.ID, "void-cover").text
        assert "（已撤单）" in browser.find_element(By.ID, "premium").text
        table = browser.find_element(By.ID, "coverages")
        assert "line-through" in table.value_of_css_property("text-decoration")

        # A replaced policy points to the one in force now, for a traveller that one covers …
        lookup(browser, base, "身份证", desk["replaced"], desk["kept_id"])
        assert browser.find_element(By.ID, "status").text == "已撤单"
        assert browser.find_element(By.ID, "replaced-by").text == desk["replacement"]
        # … and never for one it does not cover: they are told they are not on it.
        lookup(browser, base, "身份证", desk["replaced"], desk["removed_id"])
        left_out = browser.find_element(By.ID, "left-out").text
        assert "没有您" in left_out and "另行投保" in left_out and "不在该团的保障范围" not in left_out
        assert desk["replacement"] not in browser.page_source and not browser.find_elements(By.ID, "replaced-by")

        lookup(browser, base, "护照", desk["live"], desk["id"])
        assert "未查到保单信息" in browser.find_element(By.ID, "not-found").text
        for _ in range(3):  # with the previous failure: 4 in all, the lock-out threshold of these settings
            lookup(browser, base, "身份证", "LY202601010009999", desk["id"])
            slowed = browser.find_elements(By.ID, "retry-after")
            if slowed:  # slowed after 2 failures: the page says how many seconds to wait
                assert "秒后再试" in browser.find_element(By.ID, "slowed").text
                time.sleep(int(slowed[0].text))
                lookup(browser, base, "身份证", "LY202601010009999", desk["id"])
            assert browser.find_elements(By.ID, "not-found")
        lookup(browser, base, "身份证", desk["live"], desk["id"])
        refused = browser.find_element(By.ID, "refused").text
        assert "后再试" in refused
        assert not browser.find_elements(By.ID, "result") and not browser.find_elements(By.ID, "policy_no")


def test_a_traveller_taken_off_and_added_back_is_pointed_to_the_policy_that_covers_them(desk):
    root = desk["root"]
    group = people(10)
    write_request(root / "workbooks/GZ001/加回.xlsx", {"操作类型": "加人", "保单号": desk["replacement"]}, [group[6]])
    run_watcher(root, "process")
    added = result(root, "GZ001", "加回_结果")[0]["policies"][0]["policy_no"]
    with web(root) as base:
        status, _, body, _ = post(base, None, id_type="身份证", policy_no=desk["replaced"], id_no=desk["removed_id"])
    assert status == 200 and f'id="replaced-by">{added}<' in body and 'id="left-out"' not in body


def test_a_void_policy_whose_replacement_has_ended_too_says_so(root):
    """A policy replaced by 批改, its replacement's cover over since: the page said 您在新保单中，请以新保单号查询
    保障 (the replacement's stored 有效) while that policy's own lookup says 已到期."""
    person = people(1)
    write_request(root / "workbooks/GZ001/团.xlsx", issue_fields(生效时间="2026-11-12 08:00", 天数=2), person)
    run_watcher(root, "process", env=fake("2026-11-10T10:00:00+08:00"))
    first = result(root, "GZ001", "团_结果")[0]["policies"][0]["policy_no"]
    write_request(root / "workbooks/GZ001/批改.xlsx", {"操作类型": "批改", "保单号": first, "天数": 3})
    run_watcher(root, "process", env=fake("2026-11-10T11:00:00+08:00"))
    second = result(root, "GZ001", "批改_结果")[0]["policies"][0]["policy_no"]
    id_no = person[0][3]
    with web(root) as base:
        _, _, old, _ = post(base, None, id_type="身份证", policy_no=first, id_no=id_no)
        _, _, new, _ = post(base, None, id_type="身份证", policy_no=second, id_no=id_no)
    assert f'id="replaced-by">{second}<' in old and "该保单保险期间也已结束" in old
    assert "请以新保单号查询保障" not in old and "已到期" in new
    assert 'id="not-started"' not in new and 'id="not-started"' not in old


def test_the_page_tells_the_status_by_the_desk_clock(root):
    """WATCHER_FAKE_NOW pins the page's clock as it does every command's: before, the page read the machine's
    clock alone, and a policy the desk's clock has not started yet showed as 已到期."""
    person = people(1)
    write_request(root / "workbooks/GZ001/团.xlsx", issue_fields(生效时间="2026-11-12 08:00", 天数=2), person)
    run_watcher(root, "process", env=fake("2026-11-10T10:00:00+08:00"))
    number = result(root, "GZ001", "团_结果")[0]["policies"][0]["policy_no"]
    with web(root, env=fake("2026-11-11T10:00:00+08:00")) as base:
        _, _, page, _ = post(base, None, id_type="身份证", policy_no=number, id_no=person[0][3])
    assert 'id="not-started"' in page and "已到期" not in page


def test_a_person_whose_id_a_change_corrected_in_its_birth_digits_is_never_told_they_are_left_out(desk):
    """A 信息变更 corrected a 身份证 typed with the wrong birth digits (so the birth date changed too): the
    traveller who looked up the old policy with the old number was told the replacement did not have
    them, while it did. They are matched by name, the only one the change brought in under it; a person
    the change took off, who cannot be matched to anyone it brought in, is told neither way: the page
    names the new policy and asks them to look it up with a corrected ID."""
    from watcher.domain.idcard import mod11_2_check

    root = desk["root"]
    roster = people(3)
    body = roster[0][3][:6] + "19800110" + roster[0][3][14:17]  # 1980-01-01 typed for the 10th
    # Put on in roster[2]'s place: another name, the same birth date and gender (another person all the same).
    other = roster[2][3][:14] + "99" + roster[2][3][16]
    newcomer = [3, "新来甲", "身份证", other + mod11_2_check(other)]
    assert newcomer[3] != roster[2][3] and newcomer[3][6:14] == roster[2][3][6:14]
    corrected = [[1, roster[0][1], "身份证", body + mod11_2_check(body)], roster[1][:4], newcomer]
    write_request(root / "workbooks/GZ001/更正.xlsx", {"操作类型": "信息变更", "保单号": desk["live"]}, corrected)
    run_watcher(root, "process")
    changed = result(root, "GZ001", "更正_结果")[0]
    assert changed["status"] == "success", changed["errors"]
    new_no = changed["policies"][0]["policy_no"]
    with web(root) as base:
        _, _, fixed, _ = post(base, None, id_type="身份证", policy_no=desk["live"], id_no=roster[0][3])
        _, _, gone, _ = post(base, None, id_type="身份证", policy_no=desk["live"], id_no=roster[2][3])
        _, _, kept, _ = post(base, None, id_type="身份证", policy_no=desk["live"], id_no=roster[1][3])
    assert f'id="replaced-by">{new_no}<' in fixed and 'id="left-out"' not in fixed
    assert f'id="replaced-by">{new_no}<' in kept
    assert f'id="changed-to">{new_no}<' in gone and 'id="left-out"' not in gone and 'id="replaced"' not in gone
    assert "更正后的证件号码" in gone
    # On the new policy under the corrected number: asked for that one (the number typed finds nothing there);
    # a person whose ID stayed is only pointed to the new policy.
    assert "证件信息已由旅行社更正" in fixed and "更正后的证件类型和证件号码" in fixed
    assert "更正" not in kept.split('id="replaced"', 1)[1].split("</p>", 1)[0]


def test_a_void_policy_names_only_policies_issued_from_it_and_follows_a_corrected_id(desk):
    """Two ways the page misled a traveller about a void policy. A person left out by 换人 was told that
    another trip of the same tour group (a separate 投保, later, with them on it) had replaced the policy
    and that they were on it. A person whose ID a 信息变更 corrected was told they were left out, while the
    replacement covers them (the electronic policy names it)."""
    from watcher.domain.idcard import mod11_2_check

    root = desk["root"]
    group = people(10)
    later = issue_fields(旅行团号="GZ-T009", 生效时间=future(days=30).strftime("%Y-%m-%d %H:%M"))
    write_request(root / "workbooks/GZ001/团R下次.xlsx", later, [group[6]])
    roster = people(3)
    body = roster[0][3][:14] + "999"
    corrected = [[1, roster[0][1], "身份证", body + mod11_2_check(body), None, None, None, None], *roster[1:]]
    write_request(root / "workbooks/GZ001/信息变更.xlsx", {"操作类型": "信息变更", "保单号": desk["live"]}, corrected)
    run_watcher(root, "process")
    trip = result(root, "GZ001", "团R下次_结果")[0]
    changed = result(root, "GZ001", "信息变更_结果")[0]
    assert trip["status"] == "success" and changed["status"] == "success", (trip["errors"], changed["errors"])
    new_no = changed["policies"][0]["policy_no"]
    with web(root) as base:
        _, _, left, _ = post(base, None, id_type="身份证", policy_no=desk["replaced"], id_no=desk["removed_id"])
        _, _, moved, _ = post(base, None, id_type="身份证", policy_no=desk["live"], id_no=roster[0][3])
    assert 'id="left-out"' in left and trip["policies"][0]["policy_no"] not in left
    assert f'id="replaced-by">{new_no}<' in moved and 'id="left-out"' not in moved
    assert "更正后的证件类型和证件号码" in moved


def test_a_person_a_later_换人_left_out_is_told_so_not_sent_to_look_again_under_a_corrected_id(desk):
    """信息变更 (a phone corrected), then 换人 with other people: the page took the chain's reason from its
    first step and told a traveller the 换人 left out to look the new policy up with a corrected ID that
    never was. Followed step by step, they fell off at the 换人: told they are not on the replacement."""
    root = desk["root"]
    roster = people(3)
    phoned = [list(row) for row in roster]
    phoned[0][6] = "13900000009"
    write_request(root / "workbooks/GZ001/改电话.xlsx", {"操作类型": "信息变更", "保单号": desk["live"]}, phoned)
    run_watcher(root, "process")
    changed = result(root, "GZ001", "改电话_结果")[0]
    assert changed["status"] == "success", changed["errors"]
    others = people(9)[6:8]
    swap = {"操作类型": "换人", "保单号": changed["policies"][0]["policy_no"]}
    write_request(root / "workbooks/GZ001/换人.xlsx", swap, others)
    run_watcher(root, "process")
    swapped = result(root, "GZ001", "换人_结果")[0]
    assert swapped["status"] == "success", swapped["errors"]
    with web(root) as base:
        _, _, page, _ = post(base, None, id_type="身份证", policy_no=desk["live"], id_no=roster[2][3])
    assert 'id="left-out"' in page and 'id="changed-to"' not in page, page
    assert swapped["policies"][0]["policy_no"] not in page  # named only to a person who is on it


def test_a_method_a_path_does_not_take_is_405_with_what_it_takes(root):
    """POST /healthz answered 404, as if there were no such page: a monitor set up wrong was told the page is gone."""
    import io

    from watcher.settings import load_settings
    from watcher.web.app import LookupApp

    app = LookupApp(root, load_settings(root))
    for method, path, status, allow in (
        ("POST", "/healthz", "405", "GET, HEAD"),
        ("PUT", "/lookup.css", "405", "GET, HEAD"),
        ("DELETE", "/", "405", "GET, HEAD, POST"),
        ("POST", "/nowhere", "404", None),
        ("GET", "/healthz", "200", None),
    ):
        said: list = []
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "REMOTE_ADDR": "10.1.0.1", "wsgi.input": io.BytesIO()}
        b"".join(app(environ, lambda s, h, said=said: said.append((s, dict(h)))))
        assert said[0][0][:3] == status and said[0][1].get("Allow") == allow, (method, path, said[0])
