#!/usr/bin/env python3
"""Drive a real browser through a Portcullis login (used by the Swift live tests).

Usage:
    python3 Tests/Browser/login_flow.py --start URL --idp devidp|mock --user USER
        [--expect-final-prefix URL] [--then URL ...] [--timeout 30] [--insecure-tls]

Opens --start (a protected URL on the gateway) in headless Chromium. The gateway
redirects to the identity provider, where the script signs in as USER:

  devidp  Portcullis's own dev IdP: clicks the picker link <a id="user-USER">.
  mock    oidc-provider-mock: types USER into <input name="sub"> and presses
          "Authorize" (claims preset with PUT /users/USER are then used).

It then waits until the browser is back on a URL starting with
--expect-final-prefix (default: the start URL's origin) and the page has loaded.
Each --then URL is visited afterwards in the same browser (session reuse,
logout); a mock "End session" confirmation page met on the way is confirmed.

--insecure-tls accepts the gateway's self-signed test certificate.

Prints ONE line of JSON on stdout and exits 0:
  {"status": "ok", "finalURL", "httpStatus", "protocol", "page", "cookies", "then": [...]}
where "page" is the JSON body parsed (the echo upstream) or else the raw text,
"cookies" the names of the cookies the browser holds for the final page's host
"protocol" the final page's ALPN protocol as the browser reports it ("h2", "http/1.1")
and each "then" entry is {"url", "finalURL", "httpStatus", "protocol", "page", "cookies"}.
On failure prints {"status": "error", "step", "message", "url", "pageText"}
and exits 1.

Needs Chromium and chromedriver (Debian: chromium, chromium-driver) and the
selenium package; override their paths with PORTCULLIS_CHROMIUM and
PORTCULLIS_CHROMEDRIVER.
"""

import argparse
import json
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from browser_support import StepError, describe, origin, page_loaded, page_text, start_browser, wait

# The element to click on each IdP's sign-in page.
MOCK_SUB_INPUT = (By.CSS_SELECTOR, "input[name='sub']")
MOCK_AUTHORIZE = (By.XPATH, "//form[.//input[@name='sub']]//button[@type='submit']")
MOCK_END_SESSION = (By.CSS_SELECTOR, "form[action$='/oauth2/end_session/confirm'] button[type='submit']")


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
    protocol = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return n ? n.nextHopProtocol : null;"
    )
    return {
        "finalURL": driver.current_url,
        "httpStatus": status,
        "protocol": protocol,
        "page": page,
        "cookies": sorted(c["name"] for c in driver.get_cookies()),
    }


def sign_in(driver, idp, user, timeout):
    """On the IdP's page (reached by redirect), sign in as `user`; returns the clicked element."""
    if idp == "devidp":
        link = (By.ID, f"user-{user}")
        button = wait(driver, timeout, "idp-page", EC.element_to_be_clickable(link), f"link #user-{user}")
    else:
        field = wait(driver, timeout, "idp-page", EC.visibility_of_element_located(MOCK_SUB_INPUT),
                     "oidc-provider-mock's <input name=sub>")
        field.clear()
        field.send_keys(user)
        button = driver.find_element(*MOCK_AUTHORIZE)
    button.click()
    return button


def run(args):
    step = "launch-browser"
    driver = None
    try:
        driver = start_browser(args.timeout, extra_args=("--ignore-certificate-errors",) if args.insecure_tls else ())
        step = "open-start"
        driver.get(args.start)

        step = "idp-sign-in"
        clicked = sign_in(driver, args.idp, args.user, args.timeout)

        prefix = args.expect_final_prefix or origin(args.start) + "/"
        wait(driver, args.timeout, "idp-submit", EC.staleness_of(clicked), "the IdP page to navigate away")
        wait(driver, args.timeout, "return-to-gateway",
             lambda d: d.current_url.startswith(prefix) and page_loaded(d), f"a loaded page under {prefix}")
        step = "read-page"
        result = {"status": "ok", **snapshot(driver), "then": []}

        for url in args.then:
            step = f"then {url}"
            driver.get(url)
            wait(driver, args.timeout, step, page_loaded, "the page to load")
            if args.idp == "mock" and driver.find_elements(*MOCK_END_SESSION):
                button = driver.find_element(*MOCK_END_SESSION)
                button.click()  # oidc-provider-mock asks before following post_logout_redirect_uri
                wait(driver, args.timeout, step, EC.staleness_of(button), "the End session page to navigate away")
                wait(driver, args.timeout, step, page_loaded, "the page after End session to load")
            result["then"].append({"url": url, **snapshot(driver)})
        return result
    except Exception as error:
        if isinstance(error, StepError):
            step = error.step
        message = str(error) if isinstance(error, StepError) else describe(error)
        failure = {"status": "error", "step": step, "message": message[:2000],
                   "url": None, "pageText": None}
        try:
            failure["url"] = driver.current_url
            failure["pageText"] = page_text(driver)[:2000]
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
    parser.add_argument("--idp", required=True, choices=("devidp", "mock"))
    parser.add_argument("--user", required=True, help="user id (devidp) or subject (mock)")
    parser.add_argument("--expect-final-prefix", help="URL the login must end on (default: start origin)")
    parser.add_argument("--then", action="append", default=[], help="URL to visit after login (repeatable)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per step")
    parser.add_argument("--insecure-tls", action="store_true", help="accept a self-signed gateway certificate")
    result = run(parser.parse_args())
    print(json.dumps(result, separators=(",", ":")), flush=True)
    sys.exit(0 if result["status"] == "ok" else 1)


if __name__ == "__main__":
    main()
