package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
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

// The browser tests run `gatepass playground` in-process and use it the
// way a newcomer would, in headless Chromium. TestPlaygroundInBrowser: alice
// asks for access, bob approves, alice reads her token, the grant expires.
// TestPlaygroundFormInBrowser: the request form, the Home tab, an extension
// and a thread, then the page at phone width. They assert on the page's DOM
// only, never on sleeps, and save screenshots for the README.
//
// They need Debian's chromium package. Set GATEPASS_CHROMIUM to use another
// binary, and GATEPASS_SCREENSHOT=1 to rewrite the screenshots in docs/
// (each is also written when missing).

// Screenshots for the README.
const (
	pgScreenshot     = "docs/playground.png"
	pgFormScreenshot = "docs/playground-form.png"
	pgHomeScreenshot = "docs/playground-home.png"
)

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

// pgBrowser is headless Chromium on a running playground.
type pgBrowser struct {
	t   *testing.T
	p   *pgInstance
	ctx context.Context
}

// newPgBrowser starts Chromium for the test, or skips the test when there
// is none (and GATEPASS_REQUIRE_BROWSER is not 1).
func newPgBrowser(t *testing.T, p *pgInstance, timeout time.Duration) *pgBrowser {
	t.Helper()
	chrome := pgChromium()
	if chrome == "" {
		if os.Getenv("GATEPASS_REQUIRE_BROWSER") == "1" {
			t.Fatal("no chromium found, and GATEPASS_REQUIRE_BROWSER=1 (as .ci/run sets) says the browser test must run")
		}
		t.Skip("browser test skipped: install Debian's chromium (apt-get install chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
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
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return &pgBrowser{t: t, p: p, ctx: browser}
}

func (b *pgBrowser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\nplayground log:\n%s", what, err, b.p.stderr)
	}
}

// waitFor waits until the JavaScript expression is true, checking on every
// change to the DOM.
func (b *pgBrowser) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	b.poll(what, expr, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(timeout))
}

// waitLayout waits until the JavaScript expression is true, checking every
// 50 ms: for conditions on layout, which changes without the DOM changing.
func (b *pgBrowser) waitLayout(what, expr string, timeout time.Duration) {
	b.t.Helper()
	b.poll(what, expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))
}

func (b *pgBrowser) poll(what, expr string, opts ...chromedp.PollOption) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, opts...)); err != nil {
		html, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('.panes').innerText + '\n--- modal:\n' + (document.getElementById('modal-root').innerText || '')`))
		b.t.Fatalf("waiting for %s: %v\npage shows:\n%s\nplayground log:\n%s", what, err, html, b.p.stderr)
	}
}

func (b *pgBrowser) eval(what, expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return s
}

// open loads the page at a window size and waits until it is live.
func (b *pgBrowser) open(width, height int64) {
	b.t.Helper()
	b.step("open the page",
		chromedp.EmulateViewport(width, height),
		chromedp.Navigate(b.p.url+"/"),
		chromedp.WaitVisible(chromedp.ID("composer-input")),
	)
	b.waitFor("the live connection", `document.getElementById('live-text').textContent === 'live'`, 10*time.Second)
}

// settle takes the mouse and focus off things, and stops highlights, so a
// screenshot shows the page at rest.
func (b *pgBrowser) settle(click chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.step("settle the page",
		click,
		chromedp.Evaluate[chromedp.Void](`document.activeElement?.blur(); document.querySelectorAll('.msg.flash').forEach(m => m.classList.remove('flash')); document.getElementById('toasts').replaceChildren()`),
	)
}

// screenshot saves a full-page PNG to path when GATEPASS_SCREENSHOT=1 or
// the file is missing, else to a temporary directory.
func (b *pgBrowser) screenshot(path string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 1000 {
		b.t.Fatalf("screenshot is not a full-page PNG: %v", err)
	}
	out := filepath.Join(b.t.TempDir(), filepath.Base(path))
	if _, err := os.Stat(path); os.Getenv("GATEPASS_SCREENSHOT") == "1" || os.IsNotExist(err) {
		out = path
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot (%dx%d) saved to %s", img.Bounds().Dx(), img.Bounds().Dy(), out)
}

// paneText is a pane's visible text, as a JavaScript expression.
func paneText(pane string) string {
	return fmt.Sprintf(`(document.querySelector('#%s-messages')?.innerText ?? '')`, pane)
}

func TestPlaygroundInBrowser(t *testing.T) {
	began := time.Now()
	if pgChromium() == "" && os.Getenv("GATEPASS_REQUIRE_BROWSER") != "1" {
		t.Skip("browser test skipped: install Debian's chromium (apt-get install chromium)")
	}
	p := startPlayground(t)
	b := newPgBrowser(t, p, 90*time.Second)
	step, waitFor, eval := b.step, b.waitFor, b.eval
	b.open(1440, 900)

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
	b.settle(chromedp.Click(chromedp.ID("main-title"))) // moves the mouse off the sidebar
	b.screenshot(pgScreenshot)
	t.Logf("the browser test took %s", time.Since(began).Round(100*time.Millisecond))
}

// pgSelect picks an option in the open modal as a person would, firing the
// change event the page listens to.
func pgSelect(block, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const s = document.querySelector('#modal select[data-block=%q]');
		s.value = %q;
		s.dispatchEvent(new Event('change', { bubbles: true }));
	})()`, block, value))
}

// pgModalIdle is true while the open modal is not waiting for gatepass (it
// is disabled meanwhile), as a JavaScript expression.
const pgModalIdle = `!document.querySelector('#modal .modal-body').hasAttribute('aria-busy')`

// pgField is the CSS selector of a text field of the open modal.
func pgField(block string) string {
	return fmt.Sprintf(`#modal [data-block=%q][data-action]`, block)
}

// The request form, the Home tab, an extension and a thread reply, then
// the page at phone width.
func TestPlaygroundFormInBrowser(t *testing.T) {
	began := time.Now()
	if pgChromium() == "" && os.Getenv("GATEPASS_REQUIRE_BROWSER") != "1" {
		t.Skip("browser test skipped: install Debian's chromium (apt-get install chromium)")
	}
	p := startPlayground(t)
	b := newPgBrowser(t, p, 150*time.Second)
	step, waitFor, eval := b.step, b.waitFor, b.eval
	b.open(1440, 900)

	// alice types /access alone: gatepass opens its form over the page.
	step("alice types /access in #access-approvals",
		chromedp.Click(chromedp.CSS(`.user-btn[data-user="U0ALICE"]`)),
		chromedp.Click(chromedp.CSS(`.conv[data-conv="C0APPROVALS"]`)),
		chromedp.SendKeys(chromedp.ID("composer-input"), "/access"+kb.Enter),
	)
	waitFor("the request form", `(() => {
		const m = document.getElementById('modal');
		return m !== null && !document.getElementById('modal-root').hidden && m.querySelector('h2').textContent === 'Request access'
			&& m.querySelector('select[data-block="resource"]') !== null && m.querySelector('select[data-block="level"]') !== null
			&& m.querySelector('textarea[data-block="reason"]') !== null && m.innerText.includes('Reason (optional)')
			&& m.querySelector('[data-modal="submit"]').textContent === 'Request';
	})()`, 15*time.Second)
	// Only alice sees it.
	step("switch to bob", chromedp.Click(chromedp.CSS(`.user-btn[data-user="U0BOB"]`)))
	waitFor("the form to be hidden from bob", `document.getElementById('modal-root').hidden`, 5*time.Second)
	step("back to alice", chromedp.Click(chromedp.CSS(`.user-btn[data-user="U0ALICE"]`)))
	waitFor("alice's form again", `!document.getElementById('modal-root').hidden`, 5*time.Second)

	// Required fields are checked before anything is sent, as in Slack.
	step("submit the empty form", chromedp.Click(chromedp.CSS(`#modal [data-modal="submit"]`)))
	waitFor("required-field errors", `document.querySelectorAll('#modal .field-error:not([hidden])').length === 4`, 5*time.Second)

	// Picking a resource makes gatepass offer its levels (dispatch_action,
	// views.update).
	step("pick prod-db", pgSelect("resource", "prod-db"))
	waitFor("prod-db's levels", `(() => {
		const s = document.querySelector('#modal select[data-block="level:prod-db"]');
		return s !== null && [...s.options].some(o => o.textContent.startsWith('read (up to 15m, 1 approval)'))
			&& document.querySelector('#modal select[data-block="resource"]').value === 'prod-db' && `+pgModalIdle+`;
	})()`, 10*time.Second)
	step("fill in the form",
		pgSelect("level:prod-db", "read"),
		chromedp.SendKeys(chromedp.CSS(pgField("duration")), "forever"),
		chromedp.SendKeys(chromedp.CSS(pgField("ticket")), "INC-7"),
		chromedp.SendKeys(chromedp.CSS(pgField("reason")), "slow queries on the orders table"),
		chromedp.Click(chromedp.CSS(`#modal [data-modal="submit"]`)),
	)
	// gatepass's answer comes back beside the field; the form stays open.
	waitFor("the duration error", `(() => {
		const e = document.querySelector('#modal .field-block[data-block="duration"] .field-error');
		return e !== null && e.textContent.includes('"forever" is not a duration') && document.querySelectorAll('#modal .field-error:not([hidden])').length === 1
			&& document.querySelector('#modal [data-block="ticket"][data-action]').value === 'INC-7' && `+pgModalIdle+`;
	})()`, 10*time.Second)
	step("fix the duration",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).select()`, pgField("duration"))),
		chromedp.SendKeys(chromedp.CSS(pgField("duration")), "2m"),
	)
	// An edited field's error goes; the others stay filled in.
	waitFor("the error to go once the field is edited", `document.querySelectorAll('#modal .field-error:not([hidden])').length === 0
		&& document.querySelector('#modal [data-block="duration"][data-action]').value === '2m'`, 5*time.Second)
	b.settle(chromedp.Click(chromedp.CSS(`#modal .modal-head h2`)))
	b.screenshot(pgFormScreenshot)
	step("send the form", chromedp.Click(chromedp.CSS(`#modal [data-modal="submit"]`)))
	waitFor("the form to close", `document.getElementById('modal-root').hidden`, 10*time.Second)

	// The request reaches the channel, its ticket a link to the tracker.
	approval := `[...document.querySelectorAll('#main-messages .msg:not(.ephemeral)')].find(m => m.innerText.includes('INC-7') && m.querySelector('.sk-btn[data-action="approve"]'))`
	waitFor("the approval message", fmt.Sprintf(`(() => {
		const m = %s;
		return m !== undefined && m.innerText.includes('@alice asks for read access to prod-db for 2m (ticket INC-7)')
			&& m.querySelector('a[href="https://tracker.example/browse/INC-7"]') !== null;
	})()`, approval), 15*time.Second)
	ts := eval("the approval message's ts", approval+`.dataset.ts`)
	id := eval("the request ID", approval+`.querySelector('.sk-btn').dataset.value`)

	// A thread reply under it (as gatepass's reminder is), through the
	// stand-in's Web API: shown as a count, expandable, kept across reloads.
	pgPostReply(t, p, demo.ApproverChannel, ts, ":bell: <@U0BOB> this request is still waiting")
	threadOf := fmt.Sprintf(`document.querySelector('#main-messages .msg[data-ts="%s"] .thread-toggle')`, ts)
	waitFor("the reply count", threadOf+`?.innerText.includes('1 reply') === true`, 10*time.Second)
	step("expand the thread", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#main-messages .msg[data-ts="%s"] .thread-toggle`, ts))))
	waitFor("the reply", fmt.Sprintf(`document.querySelector('#main-messages .msg[data-ts="%s"] .thread .msg.reply')?.innerText.includes('@bob this request is still waiting') === true`, ts), 5*time.Second)
	step("reload the page", chromedp.Reload())
	waitFor("the live connection", `document.getElementById('live-text').textContent === 'live'`, 10*time.Second)
	waitFor("the reply count after a reload", threadOf+`?.innerText.includes('1 reply') === true`, 10*time.Second)
	if n := eval("top-level messages", `String(document.querySelectorAll('#main-messages > .msg:not(.ephemeral)').length)`); n != "1" {
		t.Errorf("%s top-level messages in #access-approvals, want 1 (the reply belongs in the thread)", n)
	}

	// alice's receipt came by DM, with a Cancel button.
	step("open alice's DM", chromedp.Click(chromedp.CSS(`.conv[data-conv="DU0ALICE"]`)))
	waitFor("the receipt with Cancel", fmt.Sprintf(`[...document.querySelectorAll('#main-messages .msg')].some(m => m.innerText.includes(%q) && m.querySelector('.sk-btn[data-action="cancel"]'))`, id), 10*time.Second)

	// bob approves in the channel.
	step("bob approves",
		chromedp.Click(chromedp.CSS(`.user-btn[data-user="U0BOB"]`)),
		chromedp.Click(chromedp.CSS(`.conv[data-conv="C0APPROVALS"]`)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#main-messages .msg[data-ts="%s"] .sk-btn[data-action="approve"]`, ts))),
	)
	waitFor("the approval", fmt.Sprintf(`document.querySelector('#main-messages .msg[data-ts="%s"]')?.innerText.includes('Approved by @bob') === true`, ts), 15*time.Second)
	step("open alice's DM", chromedp.Click(chromedp.CSS(`.conv[data-conv="DU0ALICE"]`)))
	waitFor("the token", `[...document.querySelectorAll('#main-messages pre.code-block')].some(p => p.textContent.trim().startsWith('gpass_'))`, 15*time.Second)
	token := eval("read the token", `[...document.querySelectorAll('#main-messages pre.code-block')].map(p => p.textContent.trim()).find(t => t.startsWith('gpass_'))`)
	got := p.introspect(token)
	if got["active"] != true || got["scope"] != "prod-db:read" || got["ticket"] != "INC-7" || got["request_id"] != id {
		t.Fatalf("introspect the token from the page: %v", got)
	}
	exp := got["exp"].(float64)
	// The curl line at the bottom of the page carries it, on the page's own address.
	if curl := eval("the curl lines", `document.getElementById('introspect-curl').textContent`); !strings.Contains(curl, "-d token="+token+" "+p.url+"/v1/introspect") || !strings.Contains(curl, p.proxyURL+"/invoices") {
		t.Errorf("the page's curl lines:\n%s", curl)
	}

	// alice's Home tab: her grant, with Extend. Clicking it as bob makes
	// the page act as alice, whose tab it is.
	step("open Home: alice", chromedp.Click(chromedp.CSS(`.conv[data-conv="home:U0ALICE"]`)))
	homeOf := func(pane string) string {
		return fmt.Sprintf(`document.querySelector('#%s-messages .home-view')`, pane)
	}
	waitFor("alice's Home tab with her grant", fmt.Sprintf(`(() => {
		const h = %s;
		return h !== null && h.innerText.includes('Your access') && h.innerText.includes('INC-7') && h.querySelector('.sk-btn[data-action="extend"]')?.textContent === 'Extend'
			&& h.querySelector('.sk-btn[data-action="revoke"]') !== null && document.getElementById('composer').hidden;
	})()`, homeOf("main")), 10*time.Second)
	step("alice clicks Extend in her Home tab", chromedp.Click(chromedp.CSS(`#main-messages .home-view .sk-btn[data-action="extend"]`)))
	waitFor("the page to act as alice", `document.querySelector('.user-btn[aria-checked="true"]')?.dataset.user === 'U0ALICE'`, 5*time.Second)
	waitFor("the Home tab to show the pending extension", fmt.Sprintf(`(() => {
		const h = %s;
		return h !== null && h.innerText.includes('An extension of 2m is waiting for approval') && h.querySelector('.sk-btn[data-action="extend"]') === null;
	})()`, homeOf("main")), 10*time.Second)

	// bob's Home tab, beside it: the extension waits for his decision.
	step("open Home: bob beside", chromedp.Click(chromedp.CSS(`.split[data-split="home:U0BOB"]`)))
	waitFor("bob's Home tab with the extension", fmt.Sprintf(`(() => {
		const h = %s;
		return h !== null && h.innerText.includes('Waiting for your decision') && h.innerText.includes('asks to extend prod-db read by 2m')
			&& h.querySelector('.sk-btn[data-action="ext_approve"]') !== null;
	})()`, homeOf("side")), 10*time.Second)
	b.settle(chromedp.Click(chromedp.ID("main-title")))
	b.screenshot(pgHomeScreenshot)

	// bob approves it from his Home tab; the grant lasts 2 minutes longer,
	// with the same token.
	step("bob approves the extension in his Home tab", chromedp.Click(chromedp.CSS(`#side-messages .home-view .sk-btn[data-action="ext_approve"]`)))
	waitFor("the page to act as bob", `document.querySelector('.user-btn[aria-checked="true"]')?.dataset.user === 'U0BOB'`, 5*time.Second)
	waitFor("bob's Home tab without it", fmt.Sprintf(`(() => { const h = %s; return h !== null && !h.innerText.includes('asks to extend'); })()`, homeOf("side")), 10*time.Second)
	step("open alice's DM", chromedp.Click(chromedp.CSS(`.conv[data-conv="DU0ALICE"]`)))
	waitFor("the new expiry in alice's DM", `(() => {
		const m = [...document.querySelectorAll('#main-messages .msg')].find(m => m.innerText.includes('was extended by 2m'));
		return m !== undefined && m.innerText.includes('approved by @bob') && m.innerText.includes('it now ends') && m.innerText.includes('Your token stays the same')
			&& m.querySelector('time.slack-date') !== null;
	})()`, 15*time.Second)
	if got := p.introspect(token); got["active"] != true || got["exp"].(float64) != exp+120 {
		t.Errorf("introspect after the extension: exp %v, want %v", got["exp"], exp+120)
	}
	step("open Home: alice again", chromedp.Click(chromedp.CSS(`.conv[data-conv="home:U0ALICE"]`)))
	waitFor("the Home tab without a pending extension", fmt.Sprintf(`(() => {
		const h = %s;
		return h !== null && !h.innerText.includes('waiting for approval') && h.querySelector('.sk-btn[data-action="extend"]') !== null;
	})()`, homeOf("main")), 10*time.Second)

	// At phone width: the channel list is a drawer, nothing overflows, the
	// form fits.
	step("phone width",
		chromedp.EmulateViewport(375, 740),
		chromedp.Click(chromedp.CSS(`.user-btn[data-user="U0ALICE"]`)),
	)
	fits := `(document.documentElement.scrollWidth <= 375 && document.body.scrollWidth <= 375)`
	b.waitLayout("the sidebar to be tucked away", `document.getElementById('sidebar').getBoundingClientRect().right <= 0 && getComputedStyle(document.getElementById('nav-toggle')).display !== 'none' && `+fits, 5*time.Second)
	step("open the channel list", chromedp.Click(chromedp.ID("nav-toggle")))
	b.waitLayout("the channel list", `document.getElementById('sidebar').getBoundingClientRect().left >= 0`, 5*time.Second)
	step("go to #access-approvals", chromedp.Click(chromedp.CSS(`.conv[data-conv="C0APPROVALS"]`)))
	b.waitLayout("the channel, with the list closed", `document.getElementById('sidebar').getBoundingClientRect().right <= 0 && document.getElementById('main-title').textContent === '# access-approvals' && `+fits, 5*time.Second)
	if over := eval("wide elements", `[...document.querySelectorAll('#main-messages *')].filter(e => e.getBoundingClientRect().right > 376).map(e => e.tagName + '.' + e.className).slice(0, 5).join(', ')`); over != "" {
		t.Errorf("at 375 px these stick out: %s", over)
	}
	step("alice opens the form on her phone", chromedp.SendKeys(chromedp.ID("composer-input"), "/access"+kb.Enter))
	b.waitLayout("the form, inside the screen", `(() => {
		const m = document.getElementById('modal');
		if (!m || document.getElementById('modal-root').hidden) return false;
		const r = m.getBoundingClientRect();
		return r.left >= 0 && r.right <= 375 && r.top >= 0 && r.bottom <= 740 && `+fits+`;
	})()`, 10*time.Second)
	step("close the form", chromedp.Click(chromedp.CSS(`#modal .modal-foot [data-modal="close"]`)))
	waitFor("the form to close", `document.getElementById('modal-root').hidden`, 10*time.Second)
	t.Logf("the browser test took %s", time.Since(began).Round(100*time.Millisecond))
}

// pgPostReply posts a reply in a message's thread as the bot, through the
// stand-in's Web API, as gatepass posts its reminders.
func pgPostReply(t *testing.T, p *pgInstance, channel, ts, text string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"channel": channel, "thread_ts": ts, "text": text})
	req, _ := http.NewRequest(http.MethodPost, p.url+demo.SlackPrefix+"/api/chat.postMessage", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+demo.BotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		t.Fatalf("chat.postMessage in the thread: %v %q", err, out.Error)
	}
}
