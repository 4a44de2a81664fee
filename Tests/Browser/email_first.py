#!/usr/bin/env python3
"""Drive a real browser through Portcullis's email-first sign-in page (used by the Swift live tests).

Usage:
    python3 Tests/Browser/email_first.py --start URL --user INPUT [--password P]
        [--screenshots DIR] [--timeout 30]

Opens --start (a protected URL on a gateway with "sso": {"loginPage": "emailFirst"}) in
headless Chromium. The gateway redirects to its own sign-in page, /.portcullis/signin,
where the script:

  identify  types INPUT into <input id="username"> and submits;
  password  if the password step follows (<input id="password">: a local user on the
            exclusion list), types --password and submits;
  idp       if it lands on Portcullis's dev IdP instead (anyone else, sent to Entra with
            INPUT as login_hint), clicks the picker link <a id="user-NAME">, NAME being
            INPUT's local part (alice@contoso.example -> alice).

It then waits until the browser is back on the start URL's origin, outside /.portcullis/,
and the page has loaded.

With --screenshots DIR it saves DIR/signin-identify.png (step one, before typing) and
DIR/signin-password.png (the password step, before typing the password), at a 900x700
window.

Prints ONE line of JSON on stdout and exits 0:
  {"status": "ok", "finalURL", "httpStatus", "page", "cookies", "steps", "screenshots"}
where "page" is the JSON body parsed (the echo upstream) or else the raw text, "cookies"
the names of the cookies the browser holds for the final page's host, "steps" the steps
met in order ("identify", "password", "idp") and "screenshots" the files written.
On failure prints {"status": "error", "step", "message", "url", "pageText", "alert",
"cookies", "console", "steps", "screenshots"} and exits 1; "alert" is the text of the
page's role="alert" element (the sign-in page's error) when there is one, "console" the
browser console's last warnings and errors (a blocked navigation shows up there). A refused
password is step "password-refused", a refused identify step "identify-refused".

Needs Chromium and chromedriver (Debian: chromium, chromium-driver) and the selenium
package; override their paths with PORTCULLIS_CHROMIUM and PORTCULLIS_CHROMEDRIVER.
"""

import argparse
import json
import os
import sys
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from browser_support import StepError, describe, origin, page_loaded, page_text, start_browser, wait

SIGNIN_PATH = "/.portcullis/signin"
RESERVED_PREFIX = "/.portcullis/"
USERNAME = (By.ID, "username")
PASSWORD = (By.ID, "password")
TOTP_CODE = (By.ID, "code")
SUBMIT = (By.CSS_SELECTOR, "form[action='/.portcullis/signin'] button[type='submit']")
ALERT = (By.CSS_SELECTOR, "[role='alert']")



def alert_text(driver):
    found = driver.find_elements(*ALERT)
    return found[0].text.strip() if found else None


def console_messages(driver):
    """The browser console's warnings and errors so far (a CSP violation shows up here)."""
    try:
        entries = driver.get_log("browser")
    except Exception:
        return []
    return [e.get("message", "")[:500] for e in entries if e.get("level") in ("WARNING", "SEVERE")][-10:]


def cookie_names(driver):
    return sorted(c["name"] for c in driver.get_cookies())


def snapshot(driver):
    """The loaded page: final URL, HTTP status, body (parsed JSON if it is JSON), cookie names."""
    text = page_text(driver)
    try:
        page = json.loads(text)
    except ValueError:
        page = text
    status = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return n && n.responseStatus ? n.responseStatus : null;"
    )
    return {"finalURL": driver.current_url, "httpStatus": status, "page": page, "cookies": cookie_names(driver)}


def where(driver, start_origin):
    """What the browser shows now, once the page has loaded: "app" (back on the start origin
    outside /.portcullis/), "password", "totp", "identify" (the sign-in page's steps), "idp"
    (another origin) or None (still loading, or somewhere else under /.portcullis/)."""
    if not page_loaded(driver):
        return None
    url = driver.current_url
    if origin(url) != start_origin:
        return "idp"
    path = urlsplit(url).path
    if not path.startswith(RESERVED_PREFIX):
        return "app"
    if path != SIGNIN_PATH:
        return None
    if driver.find_elements(*PASSWORD):
        return "password"
    if driver.find_elements(*TOTP_CODE):
        return "totp"
    if driver.find_elements(*USERNAME):
        return "identify"
    return None


def submit_and_wait(driver, timeout, step, start_origin):
    """Clicks the form's submit button, waits for the next page; returns where() it is."""
    button = driver.find_element(*SUBMIT)
    button.click()
    wait(driver, timeout, step, EC.staleness_of(button), "the sign-in page to navigate away")
    return wait(driver, timeout, step, lambda d: where(d, start_origin), "the next page to load")


def screenshot(driver, folder, name, saved):
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    if not driver.save_screenshot(path):
        raise StepError("screenshot", f"could not save {path}")
    saved.append(path)


def run(args, steps, saved):
    step = "launch-browser"
    driver = None
    start_origin = origin(args.start)
    try:
        driver = start_browser(args.timeout, window="900,700", extra_args=("--hide-scrollbars", "--force-device-scale-factor=1"), console=True)
        step = "open-start"
        driver.get(args.start)
        now = wait(driver, args.timeout, step, lambda d: where(d, start_origin), "the sign-in page to load")
        if now != "identify":
            raise StepError(step, f"expected the email-first sign-in page, got {now!r} at {driver.current_url}")

        step = "identify"
        steps.append("identify")
        screenshot(driver, args.screenshots, "signin-identify.png", saved)
        field = driver.find_element(*USERNAME)
        field.clear()
        field.send_keys(args.user)
        now = submit_and_wait(driver, args.timeout, step, start_origin)
        if now == "identify":
            raise StepError("identify-refused", alert_text(driver) or "the sign-in page asked again for the username")

        if now == "password":
            step = "password"
            steps.append("password")
            screenshot(driver, args.screenshots, "signin-password.png", saved)
            if args.password is None:
                raise StepError(step, "the password step appeared but no --password was given")
            field = driver.find_element(*PASSWORD)
            field.clear()
            field.send_keys(args.password)
            now = submit_and_wait(driver, args.timeout, step, start_origin)
            if now == "password":
                raise StepError("password-refused", alert_text(driver) or "the password step was shown again")
        elif now == "idp":
            step = "idp"
            steps.append("idp")
            name = args.user.split("@", 1)[0]
            link = wait(driver, args.timeout, step, EC.element_to_be_clickable((By.ID, f"user-{name}")),
                        f"the dev IdP's link #user-{name}")
            link.click()
            wait(driver, args.timeout, step, EC.staleness_of(link), "the IdP page to navigate away")
            wait(driver, args.timeout, "return-to-gateway", lambda d: where(d, start_origin) == "app" or None,
                 f"a loaded page on {start_origin} outside {RESERVED_PREFIX}")
            now = "app"

        if now == "totp":
            raise StepError("totp", "a TOTP step appeared; this script does not answer it")
        if now != "app":
            raise StepError("return-to-gateway", f"ended on {now!r} at {driver.current_url}")
        step = "read-page"
        return {"status": "ok", **snapshot(driver), "steps": steps, "screenshots": saved}
    except Exception as error:
        if isinstance(error, StepError):
            step = error.step
        message = str(error) if isinstance(error, StepError) else describe(error)
        failure = {"status": "error", "step": step, "message": message[:2000], "url": None, "pageText": None,
                   "alert": None, "cookies": None, "console": [], "steps": steps, "screenshots": saved}
        try:
            failure["url"] = driver.current_url
            failure["pageText"] = page_text(driver)[:2000]
            failure["alert"] = alert_text(driver)
            failure["cookies"] = cookie_names(driver)
            failure["console"] = console_messages(driver)
        except Exception:
            pass
        return failure
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:
                pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", required=True, help="protected URL on the gateway")
    parser.add_argument("--user", required=True, help="what to type into the email-or-username field")
    parser.add_argument("--password", help="the password, if the password step appears")
    parser.add_argument("--screenshots", help="folder for signin-identify.png and signin-password.png")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per step")
    result = run(parser.parse_args(), [], [])
    print(json.dumps(result, separators=(",", ":")), flush=True)
    sys.exit(0 if result["status"] == "ok" else 1)


if __name__ == "__main__":
    main()
