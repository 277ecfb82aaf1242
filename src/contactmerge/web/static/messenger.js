/* contactmerge messenger: the chat widget a site embeds with one script tag (see docs/messenger.md).
 *
 *   <script>window.contactmergeSettings = {app_id: "..."};</script>
 *   <script src="https://contactmerge.example.com/messenger.js" async></script>
 *
 * Vanilla JS, no build step. The browser is known by an anonymous id kept in a first-party cookie of
 * the embedding site; the server may hand back a different one (another user logged in), which replaces it.
 * Agents' replies arrive live over one server-sent-events connection per browser (not per tab), held by
 * whichever visible tab wins a Web Lock and shared with the others over a BroadcastChannel.
 */
(function () {
  "use strict";
  if (window.contactmerge && window.contactmerge.booted) return;

  var script = document.currentScript || document.querySelector('script[src*="messenger.js"]');
  var BASE = script.src.replace(/\/messenger\.js(\?.*)?$/, "");
  var IDENTITY = ["user_id", "email", "user_hash", "intercom_user_jwt", "name"];
  var POLL_MS = 3000; // only where the browser has no EventSource
  var BACKOFF_MS = [1000, 2000, 5000, 10000, 30000];
  var YEAR = 365 * 24 * 3600;

  var settings = {};
  var state = {
    anonymousId: null, contact: null, conversations: [], openId: null, open: false, poll: null,
    errorKind: null, loaded: false, seen: null, drawn: null,
  };
  // The live connection: this tab's EventSource (when it leads), its Web Lock, the channel to other tabs.
  var live = { id: null, source: null, abort: null, release: null, timer: null, retries: 0, ended: null,
    channel: null };
  var chain = Promise.resolve(); // requests run one after another, in the order they were asked for
  var ui = null;

  function cookieName() { return "cm_anon_" + settings.app_id; }

  function readCookie() {
    var match = document.cookie.match(new RegExp("(?:^|; )" + cookieName() + "=([A-Za-z0-9_-]+)"));
    return match ? match[1] : null;
  }

  function writeCookie(value, maxAge) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = cookieName() + "=" + value + "; path=/; max-age=" + maxAge + "; SameSite=Lax" + secure;
  }

  function remember(anonymousId) {
    state.anonymousId = anonymousId;
    writeCookie(anonymousId, YEAR);
  }

  function forget() {
    state.anonymousId = null;
    writeCookie("", 0);
  }

  // One request to the server; an error envelope becomes an Error carrying its message.
  function request(method, path, body) {
    var options = { method: method, headers: {} };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(BASE + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        var first = (data.errors && data.errors[0]) || {};
        throw new Error(first.message || "the messenger could not reach the server (" + response.status + ")");
      });
    });
  }

  // Queue work behind earlier requests. A failure shows in the panel and never breaks the page: the
  // promise answers false. A poll's success clears only a poll's error, not a failed send's.
  function enqueue(work, kind) {
    var next = chain.then(work).then(function (result) {
      if (kind !== "poll" || state.errorKind === "poll") showError(null);
      return result === undefined ? true : result;
    }, function (error) {
      state.errorKind = kind || "action";
      showError(error.message || String(error));
      return false;
    });
    chain = next;
    return next;
  }

  function session(extra) {
    var body = { app_id: settings.app_id, anonymous_id: state.anonymousId };
    for (var key in extra || {}) body[key] = extra[key];
    return body;
  }

  function ping(customAttributes) {
    var body = session({ page_url: location.href.slice(0, 2048) });
    IDENTITY.forEach(function (key) { if (settings[key]) body[key] = settings[key]; });
    if (customAttributes && Object.keys(customAttributes).length) body.custom_attributes = customAttributes;
    return request("POST", "/messenger/ping", body).then(function (me) {
      var changed = me.anonymous_id !== state.anonymousId;
      if (changed) state.openId = null;
      remember(me.anonymous_id);
      state.contact = me.contact;
      render();
      // The history once per session (for the badge too); afterwards the live feed keeps it current.
      if (changed || !state.loaded || isOpen()) return refresh();
      startLive();
    });
  }

  function refresh() {
    if (!state.anonymousId) return Promise.resolve();
    var query = "?app_id=" + encodeURIComponent(settings.app_id) +
      "&anonymous_id=" + encodeURIComponent(state.anonymousId);
    var asked = state.anonymousId;
    return request("GET", "/messenger/conversations" + query).then(function (data) {
      if (asked !== state.anonymousId) return;
      state.conversations = data.conversations.slice();
      arrange();
      if (!state.loaded && state.seen === null) {
        // A browser's first visit: earlier answers (another device's) are history, not news.
        state.seen = newestPart("admin") || "";
        storeSeen();
      }
      state.loaded = true;
      render();
      startLive();
    });
  }

  // Oldest activity first, the newest conversation at the bottom: the one the composer answers in.
  function arrange() {
    state.conversations.sort(function (a, b) {
      return a.updated_at - b.updated_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
    var newest = state.conversations[state.conversations.length - 1];
    state.openId = newest ? newest.id : null;
  }

  // The live feed's news: parts this browser has not had (or, ``complete``, everything it may read).
  function receive(data) {
    if (data.complete) state.conversations = [];
    data.conversations.forEach(function (conversation) {
      var mine = null;
      state.conversations.forEach(function (c) { if (c.id === conversation.id) mine = c; });
      if (!mine) {
        state.conversations.push({ id: conversation.id, type: conversation.type, parts: [],
          created_at: conversation.created_at, updated_at: conversation.updated_at });
        mine = state.conversations[state.conversations.length - 1];
      }
      var have = {};
      mine.parts.forEach(function (part) { have[part.id] = true; });
      conversation.parts.forEach(function (part) { if (!have[part.id]) mine.parts.push(part); });
      mine.updated_at = Math.max(mine.updated_at, conversation.updated_at);
    });
    arrange();
    render();
    startLive();
  }

  function newestPart(from) {
    var newest = null;
    state.conversations.forEach(function (c) {
      c.parts.forEach(function (part) {
        if ((!from || part.from === from) && (newest === null || part.id > newest)) newest = part.id;
      });
    });
    return newest;
  }

  function send(text) {
    var body = session({ body: text });
    if (state.openId) body.conversation_id = state.openId;
    return request("POST", "/messenger/messages", body).then(function (conversation) {
      state.openId = conversation.id;
      if (state.contact && state.contact.role === "visitor") state.contact.role = "lead";
      return refresh().then(function () {
        share({ complete: false, conversations: [conversation] }); // the browser's other tabs see it too
        startLive();
      });
    });
  }

  function leaveEmail(email) {
    return request("POST", "/messenger/email", session({ email: email })).then(function (me) {
      state.contact = me.contact;
      render();
    });
  }

  function shutdown() {
    var ended = state.anonymousId;
    stopLive();
    return request("POST", "/messenger/shutdown", session()).then(function () {
      if (live.channel && ended) live.channel.postMessage({ anonymous_id: ended, ended: true });
      forget();
      IDENTITY.forEach(function (key) { delete settings[key]; });
      state.contact = null;
      state.conversations = [];
      state.openId = null;
      state.loaded = false;
      render();
      return ping();
    });
  }

  // The public API: window.contactmerge(command, args). Every command answers a Promise.
  function command(name, args) {
    switch (name) {
      case "boot":
        stopLive();
        settings = Object.assign({}, args || window.contactmergeSettings || {});
        state.loaded = false;
        if (!live.listening) {
          live.listening = true;
          listen();
        }
        state.anonymousId = readCookie();
        state.seen = loadSeen();
        return enqueue(function () { return ping(settings.custom_attributes); });
      case "update":
        var custom = Object.assign({}, (args && args.custom_attributes) || {});
        Object.keys(args || {}).forEach(function (key) {
          if (IDENTITY.indexOf(key) >= 0) settings[key] = args[key];
          else if (key !== "custom_attributes" && key !== "app_id") custom[key] = args[key];
        });
        return enqueue(function () { return ping(custom); });
      case "email": return enqueue(function () { return leaveEmail(args); });
      case "send": return enqueue(function () { return send(args); });
      case "shutdown": return enqueue(shutdown);
      case "show": setOpen(true); return Promise.resolve(true);
      case "hide": setOpen(false); return Promise.resolve(true);
      case "getVisitorId": return chain.then(function () { return state.anonymousId; });
      default: return Promise.reject(new Error("unknown contactmerge command: " + name));
    }
  }

  // ---- live replies: one connection per browser, only while a tab of it is visible ----

  function liveName() { return "contactmerge-live-" + settings.app_id; }

  // Start (or keep) the live feed for this browser's session. Nothing can arrive for a visitor who has
  // not written yet (most page views), so none opens for one; a lead or user may hear of conversations
  // it has not seen yet (a merge brings them), so one opens for them even before their first.
  function startLive() {
    var id = state.anonymousId;
    var waits = state.conversations.length || (state.contact && state.contact.role !== "visitor");
    var wanted = id && id !== live.ended && waits && document.visibilityState !== "hidden";
    if (!wanted || live.id !== id) stopLive(); // (``ended``: logged out elsewhere; a ping brings a new id)
    if (!wanted || live.id === id) return; // already running, connecting or waiting for its turn
    live.id = id;
    if (!window.EventSource) {
      state.poll = setInterval(function () { enqueue(refresh, "poll"); }, POLL_MS);
      return;
    }
    if (!(navigator.locks && live.channel && window.AbortController)) {
      connect(id);
      return;
    }
    // The tab holding the lock holds the connection; the others queue for it and hear over the channel.
    var abort = new AbortController();
    live.abort = abort;
    navigator.locks.request(liveName(), { signal: abort.signal }, function () {
      if (live.abort !== abort) return null; // stopped before its turn came
      return new Promise(function (resolve) {
        live.release = resolve;
        connect(id);
      });
    }).catch(function () { /* aborted while waiting: hidden, or another session */ });
  }

  function stopLive() {
    clearTimeout(live.timer);
    clearInterval(state.poll);
    state.poll = live.timer = null;
    if (live.source) live.source.close();
    if (live.abort) live.abort.abort();
    if (live.release) live.release();
    live.source = live.abort = live.release = null;
    live.id = null;
  }

  function connect(id) {
    // Without ``after``: the first event is everything this browser may read, so nothing that became
    // readable since this tab last looked (a merge brings older conversations) can fall between the two.
    var query = "?app_id=" + encodeURIComponent(settings.app_id) + "&anonymous_id=" + encodeURIComponent(id);
    var source = new EventSource(BASE + "/messenger/stream" + query);
    live.source = source;
    function current() { return live.source === source && live.id === id; }
    source.onopen = function () { if (current()) live.retries = 0; };
    source.addEventListener("parts", function (event) {
      if (!current()) return;
      live.retries = 0;
      var data = JSON.parse(event.data);
      share(data);
      if (id === state.anonymousId) receive(data);
    });
    source.addEventListener("reconnect", function () { // the server's limit on a connection's life
      source.close();
      if (current()) connect(id);
    });
    source.addEventListener("ended", function () {
      source.close();
      if (!current()) return;
      if (live.channel) live.channel.postMessage({ anonymous_id: id, ended: true });
      live.ended = id;
      stopLive();
    });
    source.onerror = function () { // a network error, a refusal (429) or a server restart: back off
      source.close();
      if (!current()) return;
      live.source = null;
      var wait = BACKOFF_MS[Math.min(live.retries, BACKOFF_MS.length - 1)];
      live.retries += 1;
      live.timer = setTimeout(function () { if (live.id === id) connect(id); }, wait * (0.5 + Math.random()));
    };
  }

  function share(data) {
    if (live.channel) live.channel.postMessage({ anonymous_id: state.anonymousId, data: data });
  }

  function listen() {
    if (window.BroadcastChannel) {
      live.channel = new BroadcastChannel(liveName());
      live.channel.onmessage = function (event) {
        var message = event.data || {};
        if (!message.anonymous_id || message.anonymous_id !== state.anonymousId) return;
        if (message.ended) { // logged out in another tab: no use queueing for a connection
          live.ended = message.anonymous_id;
          stopLive();
        } else {
          receive(message.data);
        }
      };
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") {
        stopLive();
        return;
      }
      startLive();
      render();
    });
    window.addEventListener("pagehide", stopLive);
    window.addEventListener("pageshow", function (event) { if (event.persisted) startLive(); });
    window.addEventListener("storage", function (event) { // the panel was opened in another tab
      if (event.key !== seenKey()) return;
      state.seen = event.newValue;
      renderBadge();
    });
  }

  // ---- the unread badge: agents' replies newer than the newest one this browser has shown ----

  function seenKey() { return "cm_seen_" + settings.app_id; }

  function loadSeen() {
    try { return window.localStorage.getItem(seenKey()); } catch (error) { return null; }
  }

  function storeSeen() {
    try { window.localStorage.setItem(seenKey(), state.seen || ""); } catch (error) { /* private mode */ }
  }

  function unread() {
    var count = 0;
    state.conversations.forEach(function (c) {
      c.parts.forEach(function (part) { if (part.from === "admin" && part.id > (state.seen || "")) count += 1; });
    });
    return count;
  }

  function renderBadge() {
    if (!ui) return;
    if (isOpen() && document.visibilityState !== "hidden") {
      var newest = newestPart("admin");
      if (newest && newest > (state.seen || "")) {
        state.seen = newest;
        storeSeen();
      }
    }
    var count = state.loaded ? unread() : 0;
    ui.badge.hidden = !count;
    ui.badge.textContent = count > 99 ? "99+" : String(count);
    ui.launcher.setAttribute("aria-label", count ? "Open chat, " + count + " unread" : "Open chat");
  }

  // ---- the launcher and the panel ----

  var CSS = [
    "#cm-root{position:fixed;right:20px;bottom:20px;z-index:2147483000;font:14px/1.4 system-ui,sans-serif}",
    "#cm-launcher{width:56px;height:56px;border-radius:50%;border:0;background:#1f5fff;color:#fff;",
    "cursor:pointer;display:grid;place-items:center;box-shadow:0 4px 14px rgba(0,0,0,.25);float:right;",
    "position:relative}",
    "#cm-badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 5px;",
    "box-sizing:border-box;border-radius:10px;background:#e02424;color:#fff;font-size:12px;font-weight:700;",
    "line-height:20px;text-align:center;box-shadow:0 0 0 2px #fff}#cm-badge[hidden]{display:none}",
    "#cm-panel{width:340px;height:460px;margin-bottom:12px;background:#fff;border-radius:12px;",
    "box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden}",
    "#cm-panel[hidden]{display:none}",
    "#cm-header{background:#1f5fff;color:#fff;padding:14px 16px;font-weight:600;display:flex}",
    "#cm-header span{flex:1}#cm-close{background:none;border:0;color:#fff;font-size:18px;cursor:pointer}",
    "#cm-messages{flex:1;overflow-y:auto;padding:12px;background:#f5f7fb}",
    ".cm-conversation{display:flex;flex-direction:column;background:#fff;border:1px solid #e1e5ee;",
    "border-radius:10px;padding:6px 10px 10px;margin-bottom:12px}",
    ".cm-conversation-header{align-self:stretch;text-align:center;color:#6b7385;font-size:12px;",
    "padding-bottom:6px;margin-bottom:4px;border-bottom:1px solid #eef1f6}",
    ".cm-message{max-width:78%;padding:8px 11px;border-radius:14px;margin:4px 0;white-space:pre-wrap;",
    "word-wrap:break-word}",
    ".cm-message[data-from=me]{align-self:flex-end;background:#1f5fff;color:#fff}",
    ".cm-message[data-from=admin]{align-self:flex-start;background:#f5f7fb;color:#1d2330;border:1px solid #e1e5ee}",
    ".cm-author{align-self:flex-start;color:#6b7385;font-size:12px;margin-top:6px}",
    ".cm-author-name{font-weight:600;color:#1d2330}",
    ".cm-empty{color:#6b7385;text-align:center;margin-top:40px}",
    "#cm-error{background:#fde8e8;color:#9b1c1c;padding:8px 12px;font-size:13px}",
    "#cm-email-form,#cm-compose{display:flex;gap:6px;padding:8px;border-top:1px solid #e1e5ee}",
    "#cm-email-form[hidden],#cm-error[hidden]{display:none}",
    "#cm-root input{flex:1;padding:8px;border:1px solid #c9d0dd;border-radius:8px;font:inherit}",
    "#cm-root form button{border:0;border-radius:8px;background:#1f5fff;color:#fff;padding:0 12px;cursor:pointer}",
  ].join("");

  var HTML =
    '<div id="cm-panel" role="dialog" aria-label="Chat" hidden>' +
    '<div id="cm-header"><span>Chat with us</span><button id="cm-close" aria-label="Close">×</button></div>' +
    '<div id="cm-messages"></div><div id="cm-error" role="alert" hidden></div>' +
    '<form id="cm-email-form" hidden><input id="cm-email" type="email" placeholder="Your email, to hear back">' +
    '<button id="cm-email-save">Save</button></form>' +
    '<form id="cm-compose"><input id="cm-input" placeholder="Write a message…" autocomplete="off">' +
    '<button id="cm-send">Send</button></form></div>' +
    '<button id="cm-launcher" aria-label="Open chat"><svg width="28" height="28" viewBox="0 0 24 24" ' +
    'fill="#fff"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/>' +
    '</svg><span id="cm-badge" hidden></span></button>';

  function mount() {
    var style = document.createElement("style");
    style.textContent = CSS;
    document.head.appendChild(style);
    var root = document.createElement("div");
    root.id = "cm-root";
    root.innerHTML = HTML;
    document.body.appendChild(root);
    ui = {};
    ["panel", "messages", "error", "email-form", "email", "input", "launcher", "close", "compose", "badge"]
      .forEach(function (id) { ui[id] = document.getElementById("cm-" + id); });
    ui.launcher.onclick = function () { setOpen(!isOpen()); };
    ui.close.onclick = function () { setOpen(false); };
    ui.compose.onsubmit = function (event) {
      event.preventDefault();
      var text = ui.input.value.trim();
      if (!text) return;
      ui.input.value = "";
      command("send", text).then(function (sent) { if (!sent) ui.input.value = text; });
    };
    ui["email-form"].onsubmit = function (event) {
      event.preventDefault();
      if (ui.email.value.trim()) command("email", ui.email.value.trim());
    };
    render();
    if (state.open) setOpen(true);
  }

  function isOpen() { return !!ui && !ui.panel.hidden; }

  function setOpen(open) {
    state.open = open; // remembered until the panel exists
    if (!ui) return;
    ui.panel.hidden = !open;
    if (open) {
      ui.messages.scrollTop = ui.messages.scrollHeight; // the newest at the bottom, in view
      enqueue(refresh, "poll");
      ui.input.focus();
    }
    renderBadge();
  }

  function showError(message) {
    if (!ui) return;
    ui.error.hidden = !message;
    ui.error.textContent = message || "";
  }

  function render() {
    if (!ui) return;
    renderMessages();
    var contact = state.contact;
    ui["email-form"].hidden = !(contact && contact.role === "lead" && !contact.email);
    renderBadge();
  }

  function renderMessages() {
    // Redrawn only when a message came or went, so a reader's selection or scroll is not disturbed.
    var drawn = JSON.stringify(state.conversations.map(function (c) {
      return [c.id, c.parts.map(function (part) { return part.id; })];
    }));
    if (drawn === state.drawn) return;
    state.drawn = drawn;
    var box = ui.messages;
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.textContent = "";
    state.conversations.forEach(function (conversation) {
      var section = document.createElement("section");
      section.className = "cm-conversation";
      section.setAttribute("data-conversation-id", conversation.id);
      var header = document.createElement("div");
      header.className = "cm-conversation-header";
      header.textContent = "Conversation started " + day(conversation.created_at);
      section.appendChild(header);
      conversation.parts.forEach(function (part) {
        if (part.from === "admin") section.appendChild(byline(part));
        var bubble = document.createElement("div");
        bubble.className = "cm-message";
        bubble.setAttribute("data-from", part.from);
        bubble.setAttribute("data-part-id", part.id);
        bubble.title = when(part.created_at);
        bubble.textContent = part.body; // text, never HTML: a message cannot run script on the site
        section.appendChild(bubble);
      });
      box.appendChild(section);
    });
    if (!state.conversations.length) {
      box.innerHTML = '<p class="cm-empty">Ask us anything, we usually answer within a day.</p>';
    }
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  // "Olive Owner · 14:05" above an agent's reply: the teammate's name (never more) and the time.
  function byline(part) {
    var line = document.createElement("div");
    line.className = "cm-author";
    var name = document.createElement("span");
    name.className = "cm-author-name";
    name.textContent = part.author_name || "Team";
    var time = document.createElement("time");
    time.className = "cm-time";
    time.dateTime = new Date(part.created_at * 1000).toISOString();
    time.textContent = when(part.created_at);
    line.appendChild(name);
    line.appendChild(document.createTextNode(" · "));
    line.appendChild(time);
    return line;
  }

  function day(seconds) {
    return new Date(seconds * 1000).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
  }

  function when(seconds) {
    var date = new Date(seconds * 1000);
    var time = date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    return date.toDateString() === new Date().toDateString() ? time : day(seconds) + ", " + time;
  }

  var queued = (window.contactmerge && window.contactmerge.q) || [];
  window.contactmerge = command;
  window.contactmerge.booted = true;
  command("boot", window.contactmergeSettings);
  queued.forEach(function (args) { command.apply(null, args); });
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
