package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	demo "github.com/gatepass/gatepass/playground"
	"github.com/gatepass/gatepass/tokens"
)

// The browser test runs `gatepass playground` in-process and uses it the
// way a newcomer would, in headless Chromium: alice asks for access, bob
// approves, alice reads her token, the grant expires. It asserts on the
// page's DOM only, never on sleeps, and saves a screenshot for the README.
//
// It needs Debian's chromium package. Set GATEPASS_CHROMIUM to use another
// binary, and GATEPASS_SCREENSHOT=1 to rewrite docs/playground.png (it is
// also written when missing).

const pgScreenshot = "docs/playground.png"

// pgChromium finds the browser, or returns "".
func pgChromium() string {
	if p := os.Getenv("GATEPASS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func TestPlaygroundInBrowser(t *testing.T) {
	chrome := pgChromium()
	if chrome == "" {
		if os.Getenv("GATEPASS_REQUIRE_BROWSER") == "1" {
			t.Fatal("no chromium found, and GATEPASS_REQUIRE_BROWSER=1 (as .ci/run sets) says the browser test must run")
		}
		t.Skip("browser test skipped: install Debian's chromium (apt-get install chromium)")
	}
	began := time.Now()
	p := startPlayground(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A fresh user-data-dir is made (and removed) by the allocator. Without
	// the background-networking flags Chromium's own connections are refused
	// on machines without internet access, and it stalls.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1440, 900),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browser, actions...); err != nil {
			t.Fatalf("%s: %v\nplayground log:\n%s", what, err, p.stderr)
		}
	}
	// waitFor waits until the JavaScript expression is true, checking on
	// every change to the DOM.
	waitFor := func(what, expr string, timeout time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(browser, chromedp.Poll[bool](expr, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(timeout))); err != nil {
			html, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.querySelector('.panes').innerText`))
			t.Fatalf("waiting for %s: %v\npage shows:\n%s\nplayground log:\n%s", what, err, html, p.stderr)
		}
	}
	eval := func(what, expr string) string {
		t.Helper()
		s, err := chromedp.Run(browser, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return s
	}
	// paneText is a pane's visible text, as a JavaScript expression.
	paneText := func(pane string) string {
		return fmt.Sprintf(`(document.querySelector('#%s-messages')?.innerText ?? '')`, pane)
	}

	step("open the page",
		chromedp.EmulateViewport(1440, 900),
		chromedp.Navigate(p.url+"/"),
		chromedp.WaitVisible(chromedp.ID("composer-input")),
	)
	waitFor("the live connection", `document.getElementById('live-text').textContent === 'live'`, 10*time.Second)

	// The mrkdwn renderer escapes what it does not understand.
	rendered := eval("render mrkdwn", `window.gatepassPlayground.mrkdwn(
		"<@U0BOB> &lt;img src=x onerror=alert(1)&gt; *bold* _it_ `+"`a<b`"+` <!date^0^{nope}|the fallback> :white_check_mark: <javascript:alert(1)|click> <#C0ANNOUNCE> \"q\"")`)
	for _, want := range []string{`@bob</span>`, `&lt;img src=x onerror=alert(1)&gt;`, `<strong>bold</strong>`, `<em>it</em>`, `<code>a&lt;b</code>`, `the fallback`, `✅`, `#access-log`, `&quot;q&quot;`} {
		if !strings.Contains(rendered, want) {
			t.Errorf("mrkdwn rendered %q without %q", rendered, want)
		}
	}
	if strings.Contains(rendered, "<img") || strings.Contains(rendered, "href=\"javascript") {
		t.Errorf("mrkdwn let markup through: %s", rendered)
	}

	// alice asks, in #access-approvals.
	step("act as alice in #access-approvals",
		chromedp.Click(chromedp.CSS(`.user-btn[data-user="U0ALICE"]`)),
		chromedp.Click(chromedp.CSS(`.conv[data-conv="C0APPROVALS"]`)),
		chromedp.SendKeys(chromedp.ID("composer-input"), "/access prod-db read 10s INC-1 checking the playground"+kb.Enter),
	)
	approval := `document.querySelector('#main-messages .msg:not(.ephemeral) .sk-btn[data-action="approve"]')?.closest('.msg')`
	waitFor("the approval message with Approve and Deny", fmt.Sprintf(`(() => {
		const m = %s;
		if (!m) return false;
		const labels = [...m.querySelectorAll('.sk-btn')].map(b => b.textContent.trim()).join(',');
		return labels === 'Approve,Deny' && m.querySelector('.sk-btn.primary') !== null && m.querySelector('.sk-btn.danger') !== null
			&& m.innerText.includes('@alice asks for read access to prod-db for 10s (ticket INC-1)')
			&& m.innerText.includes('checking the playground');
	})()`, approval), 15*time.Second)
	waitFor("alice's own view of her command and its answer", `(() => {
		const e = [...document.querySelectorAll('#main-messages .msg.ephemeral')].map(m => m.innerText).join('\n');
		return e.includes('/access prod-db read 10s INC-1 checking the playground') && e.includes('sent to #access-approvals for approval') && e.includes('Only visible to you');
	})()`, 10*time.Second)
	ts := eval("the approval message's ts", approval+`.dataset.ts`)

	// bob approves.
	step("switch to bob", chromedp.Click(chromedp.CSS(`.user-btn[data-user="U0BOB"]`)))
	waitFor("alice's ephemerals to be hidden from bob", `document.querySelectorAll('#main-messages .msg.ephemeral').length === 0`, 5*time.Second)
	step("bob clicks Approve", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#main-messages .msg[data-ts="%s"] .sk-btn[data-action="approve"]`, ts))))
	waitFor("the approval message to show the decision, in place", fmt.Sprintf(`(() => {
		const all = document.querySelectorAll('#main-messages .msg:not(.ephemeral)');
		const m = document.querySelector('#main-messages .msg[data-ts="%s"]');
		return all.length === 1 && m !== null && m.querySelector('button') === null && m.querySelector('.edited') !== null
			&& m.innerText.includes('Approved by @bob');
	})()`, ts), 15*time.Second)

	// alice reads her token.
	step("open alice's DM", chromedp.Click(chromedp.CSS(`.conv[data-conv="DU0ALICE"]`)))
	waitFor("the token in alice's DM", `[...document.querySelectorAll('#main-messages pre.code-block')].some(p => p.textContent.trim().startsWith('gpass_'))`, 15*time.Second)
	token := eval("read the token", `[...document.querySelectorAll('#main-messages pre.code-block')].map(p => p.textContent.trim()).find(t => t.startsWith('gpass_'))`)
	if !tokens.Valid(token) {
		t.Fatalf("the page shows token %q, which is not well formed", token)
	}
	got := p.introspect(token)
	if got["active"] != true || got["sub"] != demo.Alice || got["scope"] != "prod-db:read" || got["ticket"] != "INC-1" {
		t.Fatalf("introspect the token from the page: %v", got)
	}

	// The 10 s grant expires; #access-log announces it.
	step("act as alice in #access-log",
		chromedp.Click(chromedp.CSS(`.user-btn[data-user="U0ALICE"]`)),
		chromedp.Click(chromedp.CSS(`.conv[data-conv="C0ANNOUNCE"]`)),
	)
	waitFor("the expiry announcement", fmt.Sprintf(`(() => { const s = %s; return s.includes('expired') && s.includes('INC-1') && s.includes("@alice's read access to prod-db"); })()`, paneText("main")), 25*time.Second)
	if got := p.introspect(token); got["active"] != false {
		t.Fatalf("introspect after the expiry announcement: %v", got)
	}

	// The picture for the README: #access-approvals beside alice's DM.
	step("arrange the screenshot",
		chromedp.Click(chromedp.CSS(`.conv[data-conv="C0APPROVALS"]`)),
		chromedp.Click(chromedp.CSS(`.split[data-split="DU0ALICE"]`)),
	)
	waitFor("both panes", fmt.Sprintf(`(() => { const m = %s, s = %s; return !document.getElementById('side-pane').hidden
		&& m.includes('Approved by @bob') && s.includes('gpass_') && s.includes('Its token no longer works'); })()`, paneText("main"), paneText("side")), 10*time.Second)
	step("settle the page",
		chromedp.Click(chromedp.ID("main-title")), // moves the mouse off the sidebar
		chromedp.Evaluate[chromedp.Void](`document.activeElement?.blur(); document.querySelectorAll('.msg.flash').forEach(m => m.classList.remove('flash'))`),
	)
	shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 1000 {
		t.Fatalf("screenshot is not a full-page PNG: %v", err)
	}
	path := filepath.Join(t.TempDir(), "playground.png")
	if _, err := os.Stat(pgScreenshot); os.Getenv("GATEPASS_SCREENSHOT") == "1" || os.IsNotExist(err) {
		path = pgScreenshot
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot (%dx%d) saved to %s; the browser test took %s", img.Bounds().Dx(), img.Bounds().Dy(), path, time.Since(began).Round(100*time.Millisecond))
}
