// gatepass playground: a small Slack look-alike for the demo workspace.
// It renders what the Slack stand-in holds (GET /state, then server-sent
// events from /events): channels, direct messages, thread replies, the
// modal gatepass opened for the acting user and each user's Home tab. It
// sends what the visitor does (POST /command, /click, /message, /home and
// /view/…). No framework, no build step, nothing from elsewhere.
//
// Every piece of text from the server goes through esc() before it reaches
// innerHTML; the mrkdwn renderer escapes first and only then adds its own
// tags.
'use strict';

(() => {
  // ---------------------------------------------------------------------
  // Text: escaping, mrkdwn, dates, emoji.

  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
  // Slack escapes exactly these three in message text.
  const decodeEntities = (s) => String(s ?? '').replace(/&(lt|gt|amp);/g, (_, n) => ({ lt: '<', gt: '>', amp: '&' })[n]);

  // The emoji codes gatepass uses, and a few common ones. Unknown codes stay
  // as typed, as in Slack.
  const EMOJI = {
    key: '🔑', white_check_mark: '✅', heavy_check_mark: '✔️', x: '❌', hourglass: '⌛',
    hourglass_flowing_sand: '⏳', no_entry: '⛔', no_entry_sign: '🚫', rotating_light: '🚨', eyes: '👀',
    leftwards_arrow_with_hook: '↩️', warning: '⚠️', lock: '🔒', unlock: '🔓', closed_lock_with_key: '🔐',
    tada: '🎉', wave: '👋', bust_in_silhouette: '👤', clock1: '🕐', alarm_clock: '⏰', stopwatch: '⏱️',
    information_source: 'ℹ️', memo: '📝', link: '🔗', bell: '🔔', red_circle: '🔴', large_green_circle: '🟢',
    thumbsup: '👍', '+1': '👍', thumbsdown: '👎', fire: '🔥', shield: '🛡️', robot_face: '🤖', ticket: '🎫',
  };
  const emojify = (s) => s.replace(/:([a-z0-9_+-]+):/g, (m, n) => (Object.hasOwn(EMOJI, n) ? EMOJI[n] : m));

  const pad = (n) => String(n).padStart(2, '0');

  // dayOffset is how many days d is from today (-1 yesterday, 1 tomorrow).
  function dayOffset(d) {
    const a = new Date(d); a.setHours(0, 0, 0, 0);
    const b = new Date(); b.setHours(0, 0, 0, 0);
    return Math.round((a - b) / 86400000);
  }

  // slackDate renders <!date^unix^format|fallback> the way Slack does for
  // the reader's locale, or returns null when it cannot (the caller then
  // shows the fallback).
  function slackDate(unix, format) {
    const d = new Date(Number(unix) * 1000);
    if (!/^-?\d+$/.test(String(unix)) || !Number.isFinite(d.getTime())) return null;
    const date = (o) => d.toLocaleDateString(undefined, o);
    const pretty = (plain) => () => {
      const n = dayOffset(d);
      return n === 0 ? 'today' : n === -1 ? 'yesterday' : n === 1 ? 'tomorrow' : plain();
    };
    const T = {
      date_num: () => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
      date: () => date({ year: 'numeric', month: 'long', day: 'numeric' }),
      date_short: () => date({ year: 'numeric', month: 'short', day: 'numeric' }),
      date_long: () => date({ weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }),
      time: () => d.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' }),
      time_secs: () => d.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit' }),
      ago: () => {
        const s = Math.round((Date.now() - d.getTime()) / 1000);
        const abs = Math.abs(s);
        const [v, u] = abs < 60 ? [abs, 'second'] : abs < 3600 ? [Math.round(abs / 60), 'minute'] : abs < 86400 ? [Math.round(abs / 3600), 'hour'] : [Math.round(abs / 86400), 'day'];
        const txt = `${v} ${u}${v === 1 ? '' : 's'}`;
        return s >= 0 ? `${txt} ago` : `in ${txt}`;
      },
    };
    T.date_pretty = pretty(T.date);
    T.date_short_pretty = pretty(T.date_short);
    T.date_long_pretty = pretty(T.date_long);
    let ok = true;
    const out = String(format ?? '').replace(/\{([a-z_]+)\}/g, (m, k) => {
      if (Object.hasOwn(T, k)) return T[k]();
      ok = false;
      return m;
    });
    return ok && out.trim() ? out : null;
  }

  // angle renders one <…> construct of Slack mrkdwn: mentions, channels,
  // groups, dates and links. inner is still entity-escaped.
  function angle(inner, names) {
    const bar = inner.indexOf('|');
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? decodeEntities(inner.slice(bar + 1)) : '';
    let m;
    if ((m = /^@([UWB][A-Z0-9]+)$/.exec(target))) {
      const id = m[1];
      const name = names.user(id) || label.replace(/^@/, '') || id;
      return `<span class="mention${id === names.me ? ' me' : ''}" data-user="${esc(id)}" title="${esc(names.realName(id) || id)}">@${esc(name)}</span>`;
    }
    if ((m = /^#([CGD][A-Z0-9]+)$/.exec(target))) {
      return `<span class="channel-ref">#${esc(names.channel(m[1]) || label || m[1])}</span>`;
    }
    if ((m = /^!subteam\^([A-Z0-9]+)$/.exec(target))) {
      return `<span class="mention">@${esc(names.group(m[1]) || label.replace(/^@/, '') || m[1])}</span>`;
    }
    if ((m = /^!(here|channel|everyone)$/.exec(target))) {
      return `<span class="mention">@${m[1]}</span>`;
    }
    if (target.startsWith('!date^')) {
      const parts = target.split('^');
      const shown = slackDate(parts[1], decodeEntities(parts[2] || ''));
      const exact = new Date(Number(parts[1]) * 1000);
      const title = Number.isFinite(exact.getTime()) ? exact.toLocaleString() : label;
      return `<time class="slack-date" title="${esc(title)}">${esc(shown ?? (label || 'a date'))}</time>`;
    }
    const url = decodeEntities(target);
    if (/^(https?:\/\/|mailto:)/i.test(url)) {
      return `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(label || url)}</a>`;
    }
    return esc(label || url);
  }

  // mrkdwn renders Slack mrkdwn as HTML. Code and <…> constructs are set
  // aside first (as placeholders), the rest is escaped, and only then are
  // bold, italic, strike, quotes, emoji and line breaks added.
  function mrkdwn(text, names = defaultNames()) {
    const held = [];
    const hold = (html) => `\uE000${held.push(html) - 1}\uE001`;
    let s = String(text ?? '').replace(/[\uE000\uE001]/g, '');
    s = s.replace(/```([\s\S]*?)```/g, (_, code) => hold(`<pre class="code-block">${esc(decodeEntities(code.replace(/^\n/, '').replace(/\n$/, '')))}</pre>`));
    s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${esc(decodeEntities(code))}</code>`));
    s = s.replace(/<([^<>\n]*)>/g, (_, inner) => hold(angle(inner, names)));
    s = esc(decodeEntities(s));
    s = s.replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, '$1<strong>$2</strong>');
    s = s.replace(/(^|[^\w_])_(?=\S)([^_\n]*?\S)_(?!\w)/g, '$1<em>$2</em>');
    s = s.replace(/(^|[^\w~])~(?=\S)([^~\n]*?\S)~(?!\w)/g, '$1<del>$2</del>');
    s = emojify(s);
    let out = '';
    const lines = s.split('\n');
    lines.forEach((line, i) => {
      if (line.startsWith('&gt;')) {
        out += `<blockquote>${line.slice(4).replace(/^ /, '')}</blockquote>`;
      } else {
        out += line + (i < lines.length - 1 ? '<br>' : '');
      }
    });
    out = out.replace(/\uE000(\d+)\uE001/g, (_, i) => held[Number(i)]);
    return out.replace(/<br>(<pre)/g, '$1').replace(/(<\/pre>)<br>/g, '$1');
  }

  // plain renders a plain_text object (or string): escaped, emoji codes
  // turned into emoji unless emoji is false.
  function plain(t) {
    if (t == null) return '';
    const obj = typeof t === 'string' ? { text: t } : t;
    const s = esc(obj.text);
    return obj.emoji === false ? s : emojify(s);
  }

  function textObject(t, names) {
    if (t == null) return '';
    if (typeof t === 'object' && t.type === 'mrkdwn') return mrkdwn(t.text, names);
    return plain(t);
  }

  function element(e, blockID) {
    if (e && e.type === 'button') {
      const style = e.style === 'primary' || e.style === 'danger' ? ` ${e.style}` : '';
      return `<button type="button" class="sk-btn${style}" data-action="${esc(e.action_id)}" data-value="${esc(e.value ?? '')}" data-block="${esc(blockID ?? '')}">${plain(e.text)}</button>`;
    }
    if (e && e.type === 'image') return `<span class="blk-image">🖼 ${esc(e.alt_text || 'image')}</span>`;
    return `<span class="blk-unsupported">[${esc(e && e.type)} element]</span>`;
  }

  function richText(node) {
    if (node == null) return '';
    if (Array.isArray(node)) return node.map(richText).join('');
    if (typeof node !== 'object') return '';
    if (typeof node.text === 'string') return node.text;
    if (node.type === 'user') return `@${node.user_id}`;
    if (node.type === 'emoji') return `:${node.name}:`;
    return richText(node.elements);
  }

  function block(b, names) {
    if (!b || typeof b !== 'object') return '';
    switch (b.type) {
      case 'section': {
        let main = '';
        if (b.text) main += `<div class="sec-text">${textObject(b.text, names)}</div>`;
        if (Array.isArray(b.fields) && b.fields.length) {
          main += `<div class="blk-fields">${b.fields.map((f) => `<div class="field">${textObject(f, names)}</div>`).join('')}</div>`;
        }
        const acc = b.accessory ? element(b.accessory, b.block_id) : '';
        return `<div class="blk blk-section"><div class="sec-main">${main}</div>${acc}</div>`;
      }
      case 'header':
        return `<div class="blk blk-header">${plain(b.text)}</div>`;
      case 'context':
        return `<div class="blk blk-context">${(Array.isArray(b.elements) ? b.elements : [])
          .map((e) => (e && e.type === 'image' ? `<span class="blk-image">🖼 ${esc(e.alt_text || '')}</span>` : `<span>${textObject(e, names)}</span>`))
          .join('')}</div>`;
      case 'actions':
        return `<div class="blk blk-actions">${(Array.isArray(b.elements) ? b.elements : []).map((e) => element(e, b.block_id)).join('')}</div>`;
      case 'divider':
        return '<hr class="blk blk-divider">';
      case 'image':
        return `<div class="blk blk-image">🖼 ${esc(b.alt_text || (b.title && b.title.text) || 'image')}</div>`;
      case 'markdown':
        return `<div class="blk">${mrkdwn(b.text, names)}</div>`;
      case 'rich_text':
        return `<div class="blk">${esc(richText(b.elements))}</div>`;
      case 'input':
        return `<div class="blk blk-input-ro"><strong>${plain(b.label)}</strong></div>`;
      default:
        return `<div class="blk blk-unsupported">[${esc(b.type)} block]</div>`;
    }
  }

  // renderBlocks renders a Block Kit array; null when blocks is not one.
  function renderBlocks(blocks, names = defaultNames()) {
    if (!Array.isArray(blocks) || blocks.length === 0) return null;
    return blocks.map((b) => block(b, names)).join('');
  }

  // ---------------------------------------------------------------------
  // State.

  const S = {
    bot: { id: 'B0GATEPASS', name: 'gatepass' },
    users: [],
    usersByID: new Map(),
    groups: new Map(),
    convs: new Map(), // id -> {id, name, kind, user, topic, messages}
    order: { channels: [], dms: [] },
    eph: new Map(), // user id -> messages
    acting: 'U0ALICE',
    main: 'C0APPROVALS',
    side: 'DU0ALICE',
    lastSeen: new Map(), // conversation id -> ts
    loaded: false,
    introspection: null,
    proxy: null,
    views: new Map(), // user id -> {modal, home}
    viewsAt: 0, // when the server read S.views
    threadsOpen: new Set(), // "channel:ts" of threads shown expanded
    homeAsked: new Set(), // users whose Home tab the page has opened
    // The modal being filled in: its view, what was entered (by block and
    // action ID), errors found before sending, and whether gatepass is busy
    // with it.
    // Errors gatepass sent for a field are hidden once the field is edited.
    form: { viewID: '', hash: '', values: {}, local: {}, edited: new Set(), busy: false, sig: '' },
    navOpen: false,
  };

  // A pane shows a conversation (its ID) or a user's Home tab ("home:" + user ID).
  const HOME = 'home:';
  const isHome = (id) => typeof id === 'string' && id.startsWith(HOME);
  const homeUser = (id) => (isHome(id) ? id.slice(HOME.length) : '');
  const known = (id) => (isHome(id) ? S.usersByID.has(homeUser(id)) : S.convs.has(id));

  function defaultNames() {
    return {
      me: S.acting,
      user: (id) => (id === S.bot.id ? S.bot.name : S.usersByID.get(id)?.name),
      realName: (id) => S.usersByID.get(id)?.real_name,
      channel: (id) => S.convs.get(id)?.name,
      group: (id) => S.groups.get(id)?.handle,
    };
  }

  // compareTS orders Slack timestamps ("seconds.micros").
  function compareTS(a, b) {
    const [as, af = ''] = String(a).split('.');
    const [bs, bf = ''] = String(b).split('.');
    if (as.length !== bs.length) return as.length - bs.length;
    if (as !== bs) return as < bs ? -1 : 1;
    return af === bf ? 0 : af < bf ? -1 : 1;
  }

  const keyOf = (m) => `${m.kind || (m.ephemeral ? 'eph' : 'msg')}:${m.channel}:${m.ts}`;

  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.get('as')) S.acting = h.get('as');
    if (h.get('c')) S.main = h.get('c');
    if (h.has('side')) S.side = h.get('side') || null;
  }

  function writeHash() {
    const h = new URLSearchParams();
    h.set('as', S.acting);
    h.set('c', S.main);
    h.set('side', S.side || '');
    history.replaceState(null, '', `#${h}`);
  }

  function applyState(st) {
    S.bot = st.bot || S.bot;
    S.users = st.users || [];
    S.usersByID = new Map(S.users.map((u) => [u.id, u]));
    S.groups = new Map((st.groups || []).map((g) => [g.id, g]));
    S.convs = new Map();
    S.order = { channels: [], dms: [] };
    for (const c of st.channels || []) { S.convs.set(c.id, c); S.order.channels.push(c.id); }
    for (const c of st.dms || []) { S.convs.set(c.id, c); S.order.dms.push(c.id); }
    S.eph = new Map(Object.entries(st.ephemerals || {}));
    if ((st.views_at || 0) >= S.viewsAt) { S.views = new Map(Object.entries(st.views || {})); S.viewsAt = st.views_at || 0; }
    S.introspection = st.introspection || null;
    S.proxy = st.proxy || null;
    if (!S.usersByID.has(S.acting) && S.users.length) S.acting = S.users[0].id;
    if (!known(S.main)) S.main = S.order.channels[0];
    if (S.side && !known(S.side)) S.side = null;
    if (!S.loaded) {
      // What was there before the page opened counts as read.
      for (const id of S.convs.keys()) S.lastSeen.set(id, latestTS(id));
      S.loaded = true;
      for (const id of [S.main, S.side]) if (isHome(id)) openHome(homeUser(id));
    }
    render();
  }

  // loadState reloads everything. Events arriving while /state is being
  // fetched are kept and applied again on top of the snapshot, which may be
  // older than they are; applying an event twice does no harm.
  let loading = null;
  let reloadAgain = false;
  let buffered = null;
  function loadState() {
    if (loading) { reloadAgain = true; return loading; }
    buffered = [];
    loading = (async () => {
      try {
        const r = await fetch('/state', { cache: 'no-store' });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const st = await r.json();
        const replay = buffered;
        buffered = null;
        applyState(st);
        for (const ev of replay) applyEvent(ev);
        return true;
      } catch (err) {
        buffered = null;
        setLive('down', 'cannot reach the playground');
        return false;
      } finally {
        loading = null;
        if (reloadAgain) { reloadAgain = false; loadState(); }
      }
    })();
    return loading;
  }

  // upsert adds or replaces m in list. An event carries a message without
  // its thread, so the replies already known are kept.
  function upsert(list, m) {
    const i = list.findIndex((x) => x.ts === m.ts && x.channel === m.channel && !x.kind);
    if (i < 0) { list.push(m); list.sort((a, b) => compareTS(a.ts, b.ts)); return; }
    if ((list[i].updates || 0) <= (m.updates || 0)) {
      if (!m.replies && list[i].replies) m.replies = list[i].replies;
      list[i] = m;
    }
  }

  function remove(list, m) {
    const i = list.findIndex((x) => x.ts === m.ts && x.channel === m.channel && !x.kind);
    if (i >= 0) list.splice(i, 1);
  }

  function applyEvent(ev) {
    if (ev.kind === 'resync') { loadState(); return; }
    if (buffered) buffered.push(ev);
    if (!S.loaded) return;
    const m = ev.message;
    switch (ev.kind) {
      case 'message':
      case 'update':
      case 'ephemeral':
      case 'delete': {
        if (!m) return;
        let list;
        if (m.ephemeral) {
          if (!S.eph.has(m.for_user)) S.eph.set(m.for_user, []);
          list = S.eph.get(m.for_user);
        } else {
          const c = S.convs.get(m.channel);
          if (!c) { loadState(); return; } // a new conversation
          if (m.thread_ts) {
            // A reply goes under its parent; a broadcast one shows in the
            // channel too.
            const parent = c.messages.find((x) => x.ts === m.thread_ts && !x.kind);
            if (!parent) { loadState(); return; }
            parent.replies = parent.replies || [];
            if (ev.kind === 'delete') remove(parent.replies, m); else upsert(parent.replies, { ...m });
            if (!m.broadcast) { scheduleRender(); return; }
          }
          list = c.messages;
        }
        if (ev.kind === 'delete') remove(list, m); else upsert(list, m);
        scheduleRender();
        return;
      }
      case 'views':
        // Views come whole; keep whichever was read last.
        if ((ev.views_at || 0) >= S.viewsAt) { S.views = new Map(Object.entries(ev.views || {})); S.viewsAt = ev.views_at || 0; }
        scheduleRender();
        return;
      default:
    }
  }

  // ---------------------------------------------------------------------
  // Rendering.

  const $ = (id) => document.getElementById(id);
  // colorOf picks one of the eight avatar colours (.c0 … .c7) for a user.
  function colorOf(id) {
    let h = 0;
    for (const c of String(id)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return `c${h % 8}`;
  }
  // Icons drawn inline, so they need no emoji font.
  const SPLIT_ICON = '<svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><rect x="1.5" y="2.5" width="13" height="11" rx="2" fill="none" stroke="currentColor" stroke-width="1.5"/><path d="M9 3v10" stroke="currentColor" stroke-width="1.5"/></svg>';
  const EYE_ICON = '<svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M1 8s2.6-5 7-5 7 5 7 5-2.6 5-7 5-7-5-7-5z" fill="none" stroke="currentColor" stroke-width="1.4"/><circle cx="8" cy="8" r="2.2" fill="currentColor"/></svg>';
  const HOME_ICON = '<svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M2 7.5 8 2.5l6 5V14H9.8v-4H6.2v4H2z" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/></svg>';
  const THREAD_ICON = '<svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M2 3.5A1.5 1.5 0 0 1 3.5 2h9A1.5 1.5 0 0 1 14 3.5v6a1.5 1.5 0 0 1-1.5 1.5H7l-3.5 3V11h0A1.5 1.5 0 0 1 2 9.5z" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/></svg>';
  const initial = (name) => esc(String(name || '?').slice(0, 1).toUpperCase());
  const clockTime = (iso) => {
    const at = new Date(iso);
    return Number.isFinite(at.getTime()) ? at.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit' }) : '';
  };

  function itemsOf(convID, user) {
    const c = S.convs.get(convID);
    const items = c ? [...c.messages] : [];
    for (const e of S.eph.get(user) || []) if (e.channel === convID) items.push(e);
    items.sort((a, b) => compareTS(a.ts, b.ts) || (a.kind === 'command' ? -1 : 0));
    return items;
  }

  // latestTS is the last activity in a conversation, thread replies included.
  function latestTS(convID) {
    let last = '0';
    for (const m of itemsOf(convID, S.acting)) {
      if (compareTS(m.ts, last) > 0) last = m.ts;
      for (const r of m.replies || []) if (compareTS(r.ts, last) > 0) last = r.ts;
    }
    return last;
  }

  function unreadCount(convID) {
    const seen = S.lastSeen.get(convID) || '0';
    let n = 0;
    for (const m of itemsOf(convID, S.acting)) {
      if (compareTS(m.ts, seen) > 0 && m.kind !== 'command') n++;
      for (const r of m.replies || []) if (compareTS(r.ts, seen) > 0) n++;
    }
    return n;
  }

  function convTitle(id) {
    if (isHome(id)) return `Home: ${S.usersByID.get(homeUser(id))?.name || homeUser(id)}`;
    const c = S.convs.get(id);
    if (!c) return '';
    return c.kind === 'dm' ? `DM: ${c.name}` : `# ${c.name}`;
  }

  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    setTimeout(() => { renderQueued = false; render(); }, 0);
  }

  function render() {
    if (!S.loaded) return;
    for (const id of [S.main, S.side]) if (id && !isHome(id)) S.lastSeen.set(id, latestTS(id));
    renderPicker();
    renderSidebar();
    renderPane('main', S.main);
    renderPane('side', S.side);
    const me = S.usersByID.get(S.acting);
    $('composer-as').textContent = `${me ? me.name : S.acting} ›`;
    $('composer').hidden = isHome(S.main);
    $('composer-input').placeholder = S.convs.has(S.main) ? `Type /access … or a message in ${convTitle(S.main).replace('# ', '#')}` : '';
    renderCurl();
    renderModal();
    document.querySelector('.app').classList.toggle('nav-open', S.navOpen);
    writeHash();
  }

  // latestToken finds the newest token on the page, in the acting user's
  // DM if there is one there, optionally one whose message mentions want.
  function latestToken(want) {
    let best = null;
    for (const id of S.order.dms) {
      for (const m of S.convs.get(id)?.messages || []) {
        const t = m.text || '';
        const tok = /gpass_[0-9A-Za-z]{36,}/.exec(t);
        if (!tok || (want && !t.includes(want))) continue;
        const mine = id === `D${S.acting}`;
        if (!best || (mine && !best.mine) || (mine === best.mine && compareTS(m.ts, best.ts) > 0)) best = { token: tok[0], ts: m.ts, mine };
      }
    }
    return best ? best.token : '';
  }

  function renderCurl() {
    if (!S.introspection && !S.proxy) return;
    const lines = [];
    if (S.introspection) {
      const tok = latestToken('') || 'gpass_…';
      lines.push('# Check a token as a production service would:');
      lines.push(`curl -s -H 'Authorization: Bearer ${S.introspection.key}' \\\n     -d token=${tok} ${location.origin}${S.introspection.path}`);
    }
    if (S.proxy) {
      const tok = latestToken(S.proxy.resource) || 'gpass_…';
      const at = S.proxy.url + S.proxy.path;
      lines.push('');
      lines.push(`# ${S.proxy.resource} sits behind gatepass's HTTP proxy: a read token may GET, a write token may also POST.`);
      lines.push(`curl -s -H 'Authorization: Bearer ${tok}' ${at}`);
      lines.push(`curl -s -H 'Authorization: Bearer ${tok}' \\\n     -d '{"customer":"Acme Corp","amount":120}' ${at}`);
    }
    const text = lines.join('\n');
    $('introspect').hidden = false;
    if ($('introspect-curl').textContent !== text) $('introspect-curl').textContent = text;
  }

  function renderPicker() {
    const box = $('user-picker');
    const html = S.users.map((u) => `<button type="button" class="user-btn" role="radio" data-user="${esc(u.id)}" aria-checked="${u.id === S.acting}" title="${esc(`${u.real_name}, ${u.role}`)}"><span class="avatar-sm ${colorOf(u.id)}">${initial(u.name)}</span>${esc(u.name)}</button>`).join('');
    if (box.renderedHTML !== html) { box.innerHTML = html; box.renderedHTML = html; }
  }

  function convItem(id) {
    const home = isHome(id);
    const c = home ? { kind: 'home', user: homeUser(id), name: S.usersByID.get(homeUser(id))?.name || homeUser(id) } : S.convs.get(id);
    const n = home || id === S.main || id === S.side ? 0 : unreadCount(id);
    const modal = home && S.views.get(c.user)?.modal ? ' <span class="you" title="A form is open for this user">· form open</span>' : '';
    const cls = [id === S.main ? 'active' : '', id === S.side ? 'beside' : '', n ? 'unread' : ''].filter(Boolean).join(' ');
    let glyph = '<span class="glyph">#</span>';
    if (c.kind === 'dm') glyph = `<span class="avatar-sm ${colorOf(c.user)}">${initial(c.name)}</span>`;
    if (home) glyph = `<span class="glyph">${HOME_ICON}</span>`;
    const label = c.kind === 'dm' ? `DM: ${esc(c.name)}` : home ? `Home: ${esc(c.name)}` : esc(c.name);
    const you = c.kind !== 'channel' && c.user === S.acting ? ' <span class="you">(you)</span>' : '';
    const title = home ? `What gatepass shows ${c.name} in its Home tab` : c.topic || '';
    return `<li class="${cls}"><button type="button" class="conv" data-conv="${esc(id)}" title="${esc(title)}">${glyph}<span class="label">${label}${you}${modal}</span>${n ? `<span class="badge">${n}</span>` : ''}</button>`
      + `<button type="button" class="split" data-split="${esc(id)}" title="Open beside the main conversation" aria-label="Open beside">${SPLIT_ICON}</button></li>`;
  }

  function renderSidebar() {
    const homes = S.users.map((u) => HOME + u.id);
    for (const [list, ids] of [['channel-list', S.order.channels], ['dm-list', S.order.dms], ['home-list', homes]]) {
      const html = ids.map(convItem).join('');
      const el = $(list);
      if (el.renderedHTML !== html) { el.innerHTML = html; el.renderedHTML = html; }
    }
  }

  // threadKey names a message's thread for S.threadsOpen.
  const threadKey = (m) => `${m.channel}:${m.ts}`;

  function messageEl(m, reply = false) {
    const el = document.createElement('div');
    el.className = `msg${m.ephemeral ? ' ephemeral' : ''}${reply ? ' reply' : ''}`;
    el.dataset.key = keyOf(m);
    el.dataset.channel = m.channel;
    el.dataset.ts = m.ts;
    el.dataset.updates = String(m.updates || 0);
    if (m.kind) el.dataset.kind = m.kind;
    const names = defaultNames();
    const isBot = m.user === S.bot.id || m.kind === 'error';
    const who = isBot ? S.bot.name : (S.usersByID.get(m.user)?.name || m.user);
    const avatar = isBot
      ? '<div class="avatar bot"><img src="/static/favicon.svg" alt=""></div>'
      : `<div class="avatar ${colorOf(m.user)}">${initial(who)}</div>`;
    const at = new Date(m.posted_at);
    const time = Number.isFinite(at.getTime())
      ? `<time title="${esc(at.toLocaleString())}">${esc(clockTime(m.posted_at))}</time>`
      : '';
    let content;
    if (m.kind === 'command') content = `<div class="content command">${esc(m.text)}</div>`;
    else if (m.kind === 'error') content = `<div class="content error">${esc(m.text)}</div>`;
    else content = `<div class="content">${renderBlocks(m.blocks, names) ?? mrkdwn(m.text, names)}</div>`;
    let thread = '';
    const replies = reply ? [] : m.replies || [];
    if (replies.length) {
      const open = S.threadsOpen.has(threadKey(m));
      const last = replies[replies.length - 1];
      const faces = [...new Set(replies.map((r) => r.user))].slice(0, 3).map((u) => (u === S.bot.id
        ? '<span class="avatar-xs bot"><img src="/static/favicon.svg" alt=""></span>'
        : `<span class="avatar-xs ${colorOf(u)}">${initial(S.usersByID.get(u)?.name || u)}</span>`)).join('');
      thread = `<button type="button" class="thread-toggle" data-thread="${esc(threadKey(m))}" aria-expanded="${open}">${faces}${THREAD_ICON}`
        + `<span class="thread-count">${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}</span>`
        + `<span class="thread-last">${open ? 'Hide thread' : `Last reply ${esc(clockTime(last.posted_at))}`}</span></button>`;
      if (open) thread += '<div class="thread" role="list"></div>';
    }
    el.innerHTML = `${avatar}<div class="msg-body"><div class="meta"><span class="author">${esc(who)}</span>${isBot ? '<span class="app-badge">APP</span>' : ''}${time}${m.updates ? '<span class="edited">(edited)</span>' : ''}${reply && m.broadcast ? '<span class="edited">also sent to the channel</span>' : ''}</div>`
      + `${m.ephemeral ? `<div class="eph-note">${EYE_ICON}Only visible to you</div>` : ''}${content}${thread}</div>`;
    const box = el.querySelector('.thread');
    if (box) for (const r of replies) box.append(messageEl(r, true));
    return el;
  }

  // version says when a message's element must be drawn again.
  const version = (m) => `${m.updates || 0}|${S.acting}|${S.users.length}|${S.threadsOpen.has(threadKey(m))}|${(m.replies || []).map((r) => `${r.ts}.${r.updates || 0}`).join(',')}`;

  function renderPane(which, convID) {
    const pane = $(`${which}-pane`);
    if (!convID || !known(convID)) { pane.hidden = which === 'side'; return; }
    pane.hidden = false;
    pane.classList.toggle('home-pane', isHome(convID));
    const box = $(`${which}-messages`);
    const switched = box.dataset.conv !== convID;
    if (switched) { box.replaceChildren(); box.dataset.conv = convID; box.renderedHome = ''; }
    $(`${which}-refresh`).hidden = !isHome(convID);
    if (isHome(convID)) { renderHome(which, homeUser(convID), box); return; }
    const c = S.convs.get(convID);
    $(`${which}-title`).textContent = convTitle(convID) + (c.kind === 'dm' && c.user === S.acting ? ' (you)' : '');
    $(`${which}-topic`).textContent = c.topic || '';
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    const items = itemsOf(convID, S.acting);
    const existing = new Map();
    for (const el of box.querySelectorAll(':scope > .msg')) existing.set(el.dataset.key, el);
    const wanted = [];
    for (const m of items) {
      let el = existing.get(keyOf(m));
      if (!el || el.dataset.version !== version(m)) {
        const fresh = messageEl(m);
        fresh.dataset.version = version(m);
        if (el && Number(el.dataset.updates) < (m.updates || 0)) fresh.classList.add('flash');
        if (el) el.replaceWith(fresh);
        el = fresh;
      }
      existing.delete(keyOf(m));
      wanted.push(el);
    }
    for (const el of existing.values()) el.remove();
    box.querySelector(':scope > .empty')?.remove();
    wanted.forEach((el, i) => {
      if (box.children[i] !== el) box.insertBefore(el, box.children[i] || null);
    });
    if (!items.length) {
      const hint = document.createElement('div');
      hint.className = 'empty';
      hint.textContent = c.kind === 'dm' ? `Nothing yet. gatepass writes to ${c.name} here.` : 'No messages yet.';
      box.append(hint);
    }
    if (switched || atBottom) box.scrollTop = box.scrollHeight;
  }

  // renderHome shows the Home tab gatepass last published for user.
  function renderHome(which, user, box) {
    const name = S.usersByID.get(user)?.name || user;
    const home = S.views.get(user)?.home;
    $(`${which}-title`).textContent = `Home: ${name}${user === S.acting ? ' (you)' : ''}`;
    $(`${which}-topic`).textContent = `gatepass's Home tab, as ${name} sees it in Slack: it is published again each time it is opened, and after a click in it.`;
    let html;
    if (home) {
      html = `<div class="home-view" data-view="${esc(home.id)}" data-user="${esc(user)}">${renderBlocks(home.blocks) ?? ''}</div>`;
    } else {
      html = `<div class="empty">${S.homeAsked.has(user) ? `Opening ${esc(name)}'s Home tab…` : 'Not opened yet.'}</div>`;
    }
    const sig = `${html}|${S.acting}`;
    if (box.renderedHome !== sig) {
      box.innerHTML = html;
      box.renderedHome = sig;
      if (home) box.querySelector('.home-view').dataset.version = String(home.updates);
    }
  }

  // ---------------------------------------------------------------------
  // The modal: what gatepass opened with views.open for the acting user.

  // inputElements lists the input blocks of a view's blocks with their
  // element: the fields of the form.
  function inputElements(blocks) {
    return (Array.isArray(blocks) ? blocks : []).filter((b) => b && b.type === 'input' && b.element && b.element.action_id);
  }

  const selectOptions = (el) => [...(el.options || []), ...((el.option_groups || []).flatMap((g) => g.options || []))];

  // initialValue is an element's value before the user touches it.
  function initialValue(el) {
    if (el.initial_option) return el.initial_option.value;
    if (typeof el.initial_value === 'string') return el.initial_value;
    return '';
  }

  function formValue(blockID, actionID) {
    return S.form.values[blockID]?.[actionID];
  }

  function setFormValue(blockID, actionID, value) {
    S.form.values[blockID] = S.form.values[blockID] || {};
    S.form.values[blockID][actionID] = value;
  }

  // syncForm makes S.form follow the modal: a new view starts from its
  // initial values; an updated one keeps what was entered in the elements
  // it still has (same block and action IDs), as Slack does.
  function syncForm(v) {
    const f = S.form;
    if (f.viewID !== v.id) {
      S.form = { viewID: v.id, hash: '', values: {}, local: {}, edited: new Set(), busy: false, sig: '' };
    } else if (f.hash !== v.hash) {
      const kept = {};
      for (const b of inputElements(v.blocks)) {
        const old = f.values[b.block_id]?.[b.element.action_id];
        if (old !== undefined) { kept[b.block_id] = kept[b.block_id] || {}; kept[b.block_id][b.element.action_id] = old; }
      }
      f.values = kept;
      f.local = {};
      f.edited = new Set();
    }
    S.form.hash = v.hash;
    for (const b of inputElements(v.blocks)) {
      if (formValue(b.block_id, b.element.action_id) === undefined) setFormValue(b.block_id, b.element.action_id, initialValue(b.element));
    }
  }

  function fieldHTML(b) {
    const el = b.element;
    const id = `f-${b.block_id}-${el.action_id}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const value = formValue(b.block_id, el.action_id) ?? '';
    const data = `id="${esc(id)}" data-block="${esc(b.block_id)}" data-action="${esc(el.action_id)}"${b.dispatch_action ? ' data-dispatch="1"' : ''}`;
    const ph = el.placeholder ? plain(el.placeholder) : '';
    let control;
    switch (el.type) {
      case 'static_select':
      case 'external_select': {
        const opt = (o) => `<option value="${esc(o.value)}"${o.value === value ? ' selected' : ''}>${plain(o.text)}</option>`;
        const groups = (el.option_groups || []).map((g) => `<optgroup label="${esc(g.label?.text || '')}">${(g.options || []).map(opt).join('')}</optgroup>`).join('');
        control = `<select ${data}><option value=""${value ? '' : ' selected'} disabled>${ph || 'Choose…'}</option>${(el.options || []).map(opt).join('')}${groups}</select>`;
        break;
      }
      case 'plain_text_input':
        control = el.multiline
          ? `<textarea ${data} rows="3" placeholder="${esc(el.placeholder?.text || '')}"${el.max_length ? ` maxlength="${Number(el.max_length)}"` : ''}>${esc(value)}</textarea>`
          : `<input ${data} type="text" placeholder="${esc(el.placeholder?.text || '')}" value="${esc(value)}"${el.max_length ? ` maxlength="${Number(el.max_length)}"` : ''}>`;
        break;
      case 'number_input':
      case 'email_text_input':
      case 'url_text_input': {
        const type = { number_input: 'number', email_text_input: 'email', url_text_input: 'url' }[el.type];
        control = `<input ${data} type="${type}" placeholder="${esc(el.placeholder?.text || '')}" value="${esc(value)}">`;
        break;
      }
      default:
        control = `<span class="blk-unsupported">[${esc(el.type)} input: not shown by the playground]</span>`;
    }
    return `<div class="field-block" data-block="${esc(b.block_id)}">`
      + `<label class="field-label" for="${esc(id)}">${plain(b.label)}${b.optional ? ' <span class="optional">(optional)</span>' : ''}</label>`
      + control
      + (b.hint ? `<div class="field-hint">${plain(b.hint)}</div>` : '')
      + '<div class="field-error" role="alert" hidden></div>'
      + '</div>';
  }

  // patchModal shows errors and whether gatepass is busy without drawing
  // the fields again, so typing, focus and the cursor are left alone.
  function patchModal(root, v) {
    for (const f of root.querySelectorAll('.field-block')) {
      const err = S.form.local[f.dataset.block] || (S.form.edited.has(f.dataset.block) ? '' : v.errors?.[f.dataset.block]) || '';
      const box = f.querySelector('.field-error');
      f.classList.toggle('has-error', err !== '');
      box.hidden = err === '';
      if (box.textContent !== err) box.textContent = err;
    }
    root.querySelectorAll('.modal-body select, .modal-body input, .modal-body textarea, .modal-body .sk-btn, [data-modal="submit"]').forEach((e) => { e.disabled = S.form.busy; });
    root.querySelector('.modal-body').toggleAttribute('aria-busy', S.form.busy);
  }

  function renderModal() {
    const root = $('modal-root');
    const v = S.views.get(S.acting)?.modal;
    if (!v) {
      if (!root.hidden) { root.hidden = true; root.innerHTML = ''; }
      S.form.sig = '';
      return;
    }
    syncForm(v);
    const sig = JSON.stringify([v.id, v.hash, S.acting]);
    if (!root.hidden && S.form.sig === sig) { patchModal(root, v); return; }
    const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : '';
    S.form.sig = sig;
    const body = (Array.isArray(v.blocks) ? v.blocks : []).map((b) => (b && b.type === 'input' && b.element && b.element.action_id ? fieldHTML(b) : block(b, defaultNames()))).join('');
    const who = S.usersByID.get(S.acting)?.name || S.acting;
    root.innerHTML = `<div class="modal-backdrop"></div><form class="modal" id="modal" data-view="${esc(v.id)}" role="dialog" aria-modal="true" aria-labelledby="modal-title" novalidate>`
      + `<header class="modal-head"><img src="/static/favicon.svg" alt=""><h2 id="modal-title">${plain(v.title || 'gatepass')}</h2>`
      + `<button type="button" class="icon-btn" data-modal="close" title="Close" aria-label="Close">×</button></header>`
      + `<div class="modal-body">${body}</div>`
      + `<footer class="modal-foot"><span class="modal-who">Shown to ${esc(who)} only</span>`
      + `<button type="button" class="sk-btn" data-modal="close">${plain(v.close || 'Cancel')}</button>`
      + (v.submit ? `<button type="submit" class="sk-btn primary" data-modal="submit">${plain(v.submit)}</button>` : '')
      + '</footer></form>';
    patchModal(root, v);
    const wasHidden = root.hidden;
    root.hidden = false;
    const again = focused && document.getElementById(focused);
    if (again && !S.form.busy) again.focus();
    else if (wasHidden) root.querySelector('.modal-body select, .modal-body input, .modal-body textarea')?.focus();
  }

  // ---------------------------------------------------------------------
  // Actions.

  function toast(text, kind) {
    const t = document.createElement('div');
    t.className = `toast${kind ? ` ${kind}` : ''}`;
    t.textContent = text;
    $('toasts').append(t);
    setTimeout(() => t.remove(), 6000);
  }

  async function post(path, body) {
    const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    let data = {};
    try { data = await r.json(); } catch { /* not JSON */ }
    if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
    return data;
  }

  // actAs makes user the acting user, saying so when that changes: only a
  // DM's or a Home tab's owner sees it, so only they click in it.
  function actAs(user, why) {
    if (!user || user === S.acting) return;
    S.acting = user;
    toast(`Now acting as ${S.usersByID.get(user)?.name || user}: ${why}`);
    render();
  }

  async function send(text) {
    const input = $('composer-input');
    const button = document.querySelector('.send');
    if (text.startsWith('/')) {
      const cmd = text.split(/\s/, 1)[0];
      if (cmd !== '/access') {
        toast(`${cmd} is not a command in this workspace: try /access.`, 'error');
        return;
      }
    }
    const conv = S.convs.get(S.main);
    if (conv && conv.kind === 'dm' && conv.user !== S.acting) {
      toast(`Only ${conv.name} types in ${convTitle(S.main)}: switch to ${conv.name}, or open a channel.`, 'error');
      return;
    }
    input.value = '';
    button.disabled = true;
    try {
      if (text.startsWith('/')) {
        await post('/command', { user: S.acting, channel: S.main, text });
      } else {
        await post('/message', { user: S.acting, channel: S.main, text });
      }
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      button.disabled = false;
      input.focus();
      loadState();
    }
  }

  async function click(btn) {
    const msg = btn.closest('.msg');
    if (!msg) return;
    const owner = S.convs.get(msg.dataset.channel)?.kind === 'dm' ? S.convs.get(msg.dataset.channel).user : '';
    actAs(owner, 'only they see their DM.');
    const buttons = msg.querySelectorAll('.sk-btn');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await post('/click', { user: S.acting, channel: msg.dataset.channel, ts: msg.dataset.ts, action_id: btn.dataset.action, value: btn.dataset.value });
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      loadState();
    }
  }

  // openHome tells gatepass that user opened its Home tab (app_home_opened);
  // the published view arrives as a "views" event.
  async function openHome(user) {
    S.homeAsked.add(user);
    scheduleRender();
    try {
      await post('/home', { user });
    } catch (err) {
      toast(`Home tab: ${err.message}`, 'error');
    }
  }

  async function clickInHome(btn) {
    const view = btn.closest('.home-view');
    if (!view) return;
    actAs(view.dataset.user, 'only they see their Home tab.');
    const buttons = view.querySelectorAll('.sk-btn');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await post('/view/click', { user: view.dataset.user, view_id: view.dataset.view, action_id: btn.dataset.action, value: btn.dataset.value });
    } catch (err) {
      toast(err.message, 'error');
      buttons.forEach((b) => { b.disabled = false; });
    } finally {
      loadState();
    }
  }

  // modalBusy runs fn with the modal disabled, as Slack does while the
  // app answers.
  async function modalBusy(fn) {
    S.form.busy = true;
    renderModal();
    try {
      return await fn();
    } catch (err) {
      toast(err.message, 'error');
      return null;
    } finally {
      S.form.busy = false;
      renderModal();
      loadState();
    }
  }

  // submitModal checks the required fields, as Slack's client does, and
  // sends the rest to gatepass; its errors come back beside the fields.
  async function submitModal() {
    const v = S.views.get(S.acting)?.modal;
    if (!v || S.form.busy) return;
    const local = {};
    const values = {};
    for (const b of inputElements(v.blocks)) {
      const value = String(formValue(b.block_id, b.element.action_id) ?? '');
      if (!b.optional && !value.trim()) local[b.block_id] = 'Please complete this required field.';
      values[b.block_id] = values[b.block_id] || {};
      values[b.block_id][b.element.action_id] = { value };
    }
    S.form.local = local;
    S.form.edited = new Set();
    if (Object.keys(local).length) { renderModal(); return; }
    const user = S.acting;
    const res = await modalBusy(() => post('/view/submit', { user, view_id: v.id, values }));
    if (res && res.response_action === 'errors') {
      // The stand-in keeps them on the view too; show them without waiting.
      const mine = S.views.get(user)?.modal;
      if (mine && mine.id === v.id) { mine.errors = res.errors || {}; renderModal(); }
    } else if (res && !res.response_action) {
      const mine = S.views.get(user);
      if (mine && mine.modal && mine.modal.id === v.id) { delete mine.modal; renderModal(); }
    }
  }

  async function closeModal() {
    const v = S.views.get(S.acting)?.modal;
    if (!v) return;
    const user = S.acting;
    const res = await modalBusy(() => post('/view/close', { user, view_id: v.id }));
    if (res) {
      const mine = S.views.get(user);
      if (mine && mine.modal && mine.modal.id === v.id) { delete mine.modal; renderModal(); }
    }
  }

  // changed records an edit in the modal; a select that dispatches its
  // action (or one outside an input block) is sent to gatepass at once.
  function changed(e) {
    const el = e.target.closest('[data-block][data-action]');
    if (!el || !('value' in el)) return;
    setFormValue(el.dataset.block, el.dataset.action, el.value);
    const shown = S.form.local[el.dataset.block] || S.views.get(S.acting)?.modal?.errors?.[el.dataset.block];
    if (shown && !S.form.edited.has(el.dataset.block)) {
      delete S.form.local[el.dataset.block];
      S.form.edited.add(el.dataset.block);
      renderModal();
    }
    if (e.type === 'change' && el.tagName === 'SELECT' && el.dataset.dispatch) {
      const v = S.views.get(S.acting)?.modal;
      if (!v) return;
      modalBusy(() => post('/view/select', { user: S.acting, view_id: v.id, block_id: el.dataset.block, action_id: el.dataset.action, value: el.value }));
    }
  }

  function setLive(kind, text) {
    $('live-dot').className = `dot ${kind}`;
    $('live-text').textContent = text;
  }

  function connect() {
    if (!('EventSource' in window)) {
      setLive('live', 'live (polling)');
      loadState();
      setInterval(loadState, 2000);
      return;
    }
    const es = new EventSource('/events');
    // "live" only once the state is loaded, so the page is whole by then.
    es.onopen = () => { loadState().then((ok) => { if (ok && es.readyState === EventSource.OPEN) setLive('live', 'live'); }); };
    es.onerror = () => setLive('down', 'reconnecting…');
    es.onmessage = (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      applyEvent(ev);
    };
  }

  // show puts a conversation or Home tab in a pane; opening a Home tab
  // tells gatepass, which publishes it afresh.
  function show(which, id) {
    if (which === 'side') {
      S.side = id === S.main ? null : id;
    } else {
      S.main = id;
      if (S.side === S.main) S.side = null;
    }
    if (isHome(id) && (which === 'main' || S.side === id)) openHome(homeUser(id));
    S.navOpen = false;
    render();
  }

  function start() {
    readHash();
    $('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      const text = $('composer-input').value.trim();
      if (text) send(text);
    });
    $('user-picker').addEventListener('click', (e) => {
      const b = e.target.closest('[data-user]');
      if (!b) return;
      S.acting = b.dataset.user;
      render();
      if (!S.views.get(S.acting)?.modal) $('composer-input').focus();
    });
    document.querySelector('.sidebar nav').addEventListener('click', (e) => {
      const split = e.target.closest('[data-split]');
      if (split) { show('side', split.dataset.split); return; }
      const b = e.target.closest('[data-conv]');
      if (b) show('main', b.dataset.conv);
    });
    $('nav-toggle').addEventListener('click', () => { S.navOpen = !S.navOpen; render(); });
    $('nav-backdrop').addEventListener('click', () => { S.navOpen = false; render(); });
    $('side-close').addEventListener('click', () => { S.side = null; render(); });
    for (const which of ['main', 'side']) {
      $(`${which}-refresh`).addEventListener('click', () => {
        const id = which === 'main' ? S.main : S.side;
        if (isHome(id)) openHome(homeUser(id));
      });
      $(`${which}-messages`).addEventListener('click', (e) => {
        const t = e.target.closest('.thread-toggle');
        if (t) {
          const k = t.dataset.thread;
          if (S.threadsOpen.has(k)) S.threadsOpen.delete(k); else S.threadsOpen.add(k);
          render();
          return;
        }
        const b = e.target.closest('.sk-btn');
        if (!b || b.disabled) return;
        if (b.closest('.home-view')) clickInHome(b); else click(b);
      });
    }
    const root = $('modal-root');
    root.addEventListener('input', changed);
    root.addEventListener('change', changed);
    root.addEventListener('submit', (e) => { e.preventDefault(); submitModal(); });
    root.addEventListener('click', (e) => {
      const c = e.target.closest('[data-modal="close"]');
      if (c) { closeModal(); return; }
      const b = e.target.closest('.modal-body .sk-btn');
      const v = S.views.get(S.acting)?.modal;
      if (b && v && !S.form.busy) modalBusy(() => post('/view/click', { user: S.acting, view_id: v.id, action_id: b.dataset.action, value: b.dataset.value }));
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !$('modal-root').hidden) closeModal();
      else if (e.key === 'Escape' && S.navOpen) { S.navOpen = false; render(); }
    });
    $('example-command').addEventListener('click', () => {
      S.acting = 'U0ALICE';
      if (!S.convs.has(S.main) || S.convs.get(S.main).kind === 'dm') S.main = 'C0APPROVALS';
      render();
      $('composer-input').value = $('example-command').textContent;
      $('composer-input').focus();
    });
    $('example-form').addEventListener('click', () => {
      S.acting = 'U0ALICE';
      if (!S.convs.has(S.main) || S.convs.get(S.main).kind === 'dm') S.main = 'C0APPROVALS';
      render();
      send('/access');
    });
    connect();
  }

  // For tests and the curious: the renderers, with the page's names.
  window.gatepassPlayground = { esc, mrkdwn, renderBlocks, slackDate, state: S, openHome };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
