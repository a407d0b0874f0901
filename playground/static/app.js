// gatepass playground: a small Slack look-alike for the demo workspace.
// It renders what the Slack stand-in holds (GET /state, then server-sent
// events from /events) and sends what the visitor does (POST /command,
// /click, /message). No framework, no build step, nothing from elsewhere.
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
  };

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
    S.introspection = st.introspection || null;
    if (!S.usersByID.has(S.acting) && S.users.length) S.acting = S.users[0].id;
    if (!S.convs.has(S.main)) S.main = S.order.channels[0];
    if (S.side && !S.convs.has(S.side)) S.side = null;
    if (!S.loaded) {
      // What was there before the page opened counts as read.
      for (const id of S.convs.keys()) S.lastSeen.set(id, latestTS(id));
      S.loaded = true;
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

  function upsert(list, m) {
    const i = list.findIndex((x) => x.ts === m.ts && x.channel === m.channel && !x.kind);
    if (i < 0) { list.push(m); list.sort((a, b) => compareTS(a.ts, b.ts)); return; }
    if ((list[i].updates || 0) <= (m.updates || 0)) list[i] = m;
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
          list = c.messages;
        }
        if (ev.kind === 'delete') remove(list, m); else upsert(list, m);
        scheduleRender();
        return;
      }
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
  const initial = (name) => esc(String(name || '?').slice(0, 1).toUpperCase());

  function itemsOf(convID, user) {
    const c = S.convs.get(convID);
    const items = c ? [...c.messages] : [];
    for (const e of S.eph.get(user) || []) if (e.channel === convID) items.push(e);
    items.sort((a, b) => compareTS(a.ts, b.ts) || (a.kind === 'command' ? -1 : 0));
    return items;
  }

  function latestTS(convID) {
    let last = '0';
    for (const m of itemsOf(convID, S.acting)) if (compareTS(m.ts, last) > 0) last = m.ts;
    return last;
  }

  function unreadCount(convID) {
    const seen = S.lastSeen.get(convID) || '0';
    return itemsOf(convID, S.acting).filter((m) => compareTS(m.ts, seen) > 0 && m.kind !== 'command').length;
  }

  function convTitle(c) {
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
    for (const id of [S.main, S.side]) if (id) S.lastSeen.set(id, latestTS(id));
    renderPicker();
    renderSidebar();
    renderPane('main', S.main);
    renderPane('side', S.side);
    const me = S.usersByID.get(S.acting);
    const here = S.convs.get(S.main);
    $('composer-as').textContent = `${me ? me.name : S.acting} ›`;
    $('composer-input').placeholder = here ? `Type /access … or a message in ${convTitle(here).replace('# ', '#')}` : '';
    if (S.introspection) {
      $('introspect').hidden = false;
      $('introspect-curl').textContent = `curl -s -H 'Authorization: Bearer ${S.introspection.key}' \\\n     -d token=gpass_… ${S.introspection.url}`;
    }
    writeHash();
  }

  function renderPicker() {
    const box = $('user-picker');
    const html = S.users.map((u) => `<button type="button" class="user-btn" role="radio" data-user="${esc(u.id)}" aria-checked="${u.id === S.acting}" title="${esc(`${u.real_name}, ${u.role}`)}"><span class="avatar-sm ${colorOf(u.id)}">${initial(u.name)}</span>${esc(u.name)}</button>`).join('');
    if (box.renderedHTML !== html) { box.innerHTML = html; box.renderedHTML = html; }
  }

  function convItem(id) {
    const c = S.convs.get(id);
    const n = id === S.main || id === S.side ? 0 : unreadCount(id);
    const cls = [id === S.main ? 'active' : '', id === S.side ? 'beside' : '', n ? 'unread' : ''].filter(Boolean).join(' ');
    const glyph = c.kind === 'dm'
      ? `<span class="avatar-sm ${colorOf(c.user)}">${initial(c.name)}</span>`
      : '<span class="glyph">#</span>';
    const label = c.kind === 'dm' ? `DM: ${esc(c.name)}` : esc(c.name);
    const you = c.kind === 'dm' && c.user === S.acting ? ' <span class="you">(you)</span>' : '';
    return `<li class="${cls}"><button type="button" class="conv" data-conv="${esc(id)}" title="${esc(c.topic || '')}">${glyph}<span class="label">${label}${you}</span>${n ? `<span class="badge">${n}</span>` : ''}</button>`
      + `<button type="button" class="split" data-split="${esc(id)}" title="Open beside the main conversation" aria-label="Open beside">${SPLIT_ICON}</button></li>`;
  }

  function renderSidebar() {
    for (const [list, ids] of [['channel-list', S.order.channels], ['dm-list', S.order.dms]]) {
      const html = ids.map(convItem).join('');
      const el = $(list);
      if (el.renderedHTML !== html) { el.innerHTML = html; el.renderedHTML = html; }
    }
  }

  function messageEl(m) {
    const el = document.createElement('div');
    el.className = `msg${m.ephemeral ? ' ephemeral' : ''}`;
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
      ? `<time title="${esc(at.toLocaleString())}">${esc(at.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit' }))}</time>`
      : '';
    let content;
    if (m.kind === 'command') content = `<div class="content command">${esc(m.text)}</div>`;
    else if (m.kind === 'error') content = `<div class="content error">${esc(m.text)}</div>`;
    else content = `<div class="content">${renderBlocks(m.blocks, names) ?? mrkdwn(m.text, names)}</div>`;
    el.innerHTML = `${avatar}<div class="msg-body"><div class="meta"><span class="author">${esc(who)}</span>${isBot ? '<span class="app-badge">APP</span>' : ''}${time}${m.updates ? '<span class="edited">(edited)</span>' : ''}</div>`
      + `${m.ephemeral ? `<div class="eph-note">${EYE_ICON}Only visible to you</div>` : ''}${content}</div>`;
    return el;
  }

  function renderPane(which, convID) {
    const pane = $(`${which}-pane`);
    if (!convID || !S.convs.has(convID)) { pane.hidden = which === 'side'; return; }
    pane.hidden = false;
    const c = S.convs.get(convID);
    $(`${which}-title`).textContent = convTitle(c) + (c.kind === 'dm' && c.user === S.acting ? ' (you)' : '');
    $(`${which}-topic`).textContent = c.topic || '';
    const box = $(`${which}-messages`);
    const switched = box.dataset.conv !== convID;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    if (switched) { box.replaceChildren(); box.dataset.conv = convID; }
    const items = itemsOf(convID, S.acting);
    const existing = new Map();
    for (const el of box.querySelectorAll(':scope > .msg')) existing.set(el.dataset.key, el);
    const version = (m) => `${m.updates || 0}|${S.acting}|${S.users.length}`;
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
      toast(`Only ${conv.name} types in ${convTitle(conv)}: switch to ${conv.name}, or open a channel.`, 'error');
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
      $('composer-input').focus();
    });
    document.querySelector('.sidebar nav').addEventListener('click', (e) => {
      const split = e.target.closest('[data-split]');
      if (split) {
        S.side = split.dataset.split === S.main ? null : split.dataset.split;
        render();
        return;
      }
      const b = e.target.closest('[data-conv]');
      if (!b) return;
      S.main = b.dataset.conv;
      if (S.side === S.main) S.side = null;
      render();
    });
    $('side-close').addEventListener('click', () => { S.side = null; render(); });
    for (const id of ['main-messages', 'side-messages']) {
      $(id).addEventListener('click', (e) => {
        const b = e.target.closest('.sk-btn');
        if (b && !b.disabled) click(b);
      });
    }
    $('example-command').addEventListener('click', () => {
      S.acting = 'U0ALICE';
      if (!S.convs.has(S.main) || S.convs.get(S.main).kind === 'dm') S.main = 'C0APPROVALS';
      render();
      $('composer-input').value = $('example-command').textContent;
      $('composer-input').focus();
    });
    connect();
  }

  // For tests and the curious: the renderers, with the page's names.
  window.gatepassPlayground = { esc, mrkdwn, renderBlocks, slackDate, state: S };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
