/* contactmerge messenger: the chat widget a site embeds with one script tag (see docs/messenger.md).
 *
 *   <script>window.contactmergeSettings = {app_id: "..."};</script>
 *   <script src="https://contactmerge.example.com/messenger.js" async></script>
 *
 * Vanilla JS, no build step. The browser is known by an anonymous id kept in a first-party cookie of
 * the embedding site; the server may hand back a different one (another user logged in), which replaces it.
 */
(function () {
  "use strict";
  if (window.contactmerge && window.contactmerge.booted) return;

  var script = document.currentScript || document.querySelector('script[src*="messenger.js"]');
  var BASE = script.src.replace(/\/messenger\.js(\?.*)?$/, "");
  var IDENTITY = ["user_id", "email", "user_hash", "intercom_user_jwt", "name"];
  var POLL_MS = 3000;
  var YEAR = 365 * 24 * 3600;

  var settings = {};
  var state = {
    anonymousId: null, contact: null, conversations: [], openId: null, open: false, poll: null,
    errorKind: null,
  };
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
      if (me.anonymous_id !== state.anonymousId) state.openId = null;
      remember(me.anonymous_id);
      state.contact = me.contact;
      render();
      if (isOpen()) return refresh();
    });
  }

  function refresh() {
    if (!state.anonymousId) return Promise.resolve();
    var query = "?app_id=" + encodeURIComponent(settings.app_id) +
      "&anonymous_id=" + encodeURIComponent(state.anonymousId);
    return request("GET", "/messenger/conversations" + query).then(function (data) {
      state.conversations = data.conversations.slice().reverse(); // oldest first, the newest at the bottom
      var newest = state.conversations[state.conversations.length - 1];
      state.openId = newest ? newest.id : null;
      render();
    });
  }

  function send(text) {
    var body = session({ body: text });
    if (state.openId) body.conversation_id = state.openId;
    return request("POST", "/messenger/messages", body).then(function (conversation) {
      state.openId = conversation.id;
      if (state.contact && state.contact.role === "visitor") state.contact.role = "lead";
      return refresh();
    });
  }

  function leaveEmail(email) {
    return request("POST", "/messenger/email", session({ email: email })).then(function (me) {
      state.contact = me.contact;
      render();
    });
  }

  function shutdown() {
    return request("POST", "/messenger/shutdown", session()).then(function () {
      forget();
      IDENTITY.forEach(function (key) { delete settings[key]; });
      state.contact = null;
      state.conversations = [];
      state.openId = null;
      render();
      return ping();
    });
  }

  // The public API: window.contactmerge(command, args). Every command answers a Promise.
  function command(name, args) {
    switch (name) {
      case "boot":
        settings = Object.assign({}, args || window.contactmergeSettings || {});
        state.anonymousId = readCookie();
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

  // ---- the launcher and the panel ----

  var CSS = [
    "#cm-root{position:fixed;right:20px;bottom:20px;z-index:2147483000;font:14px/1.4 system-ui,sans-serif}",
    "#cm-launcher{width:56px;height:56px;border-radius:50%;border:0;background:#1f5fff;color:#fff;",
    "cursor:pointer;display:grid;place-items:center;box-shadow:0 4px 14px rgba(0,0,0,.25);float:right}",
    "#cm-panel{width:340px;height:460px;margin-bottom:12px;background:#fff;border-radius:12px;",
    "box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden}",
    "#cm-panel[hidden]{display:none}",
    "#cm-header{background:#1f5fff;color:#fff;padding:14px 16px;font-weight:600;display:flex}",
    "#cm-header span{flex:1}#cm-close{background:none;border:0;color:#fff;font-size:18px;cursor:pointer}",
    "#cm-messages{flex:1;overflow-y:auto;padding:12px;background:#f5f7fb}",
    ".cm-conversation+.cm-conversation{border-top:1px dashed #c9d0dd;margin-top:8px;padding-top:8px}",
    ".cm-message{max-width:78%;padding:8px 11px;border-radius:14px;margin:4px 0;white-space:pre-wrap;",
    "word-wrap:break-word;clear:both}",
    ".cm-message[data-from=me]{float:right;background:#1f5fff;color:#fff}",
    ".cm-message[data-from=admin]{float:left;background:#fff;color:#1d2330;border:1px solid #e1e5ee}",
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
    '</svg></button>';

  function mount() {
    var style = document.createElement("style");
    style.textContent = CSS;
    document.head.appendChild(style);
    var root = document.createElement("div");
    root.id = "cm-root";
    root.innerHTML = HTML;
    document.body.appendChild(root);
    ui = {};
    ["panel", "messages", "error", "email-form", "email", "input", "launcher", "close", "compose"]
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
    clearInterval(state.poll);
    state.poll = null;
    if (open) {
      enqueue(refresh, "poll");
      state.poll = setInterval(function () { enqueue(refresh, "poll"); }, POLL_MS);
      ui.input.focus();
    }
  }

  function showError(message) {
    if (!ui) return;
    ui.error.hidden = !message;
    ui.error.textContent = message || "";
  }

  function render() {
    if (!ui) return;
    var box = ui.messages;
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.textContent = "";
    state.conversations.forEach(function (conversation) {
      var section = document.createElement("div");
      section.className = "cm-conversation";
      section.setAttribute("data-conversation-id", conversation.id);
      conversation.parts.forEach(function (part) {
        var bubble = document.createElement("div");
        bubble.className = "cm-message";
        bubble.setAttribute("data-from", part.from);
        bubble.textContent = part.body; // text, never HTML: a message cannot run script on the site
        section.appendChild(bubble);
      });
      box.appendChild(section);
    });
    if (!state.conversations.length) {
      box.innerHTML = '<p class="cm-empty">Ask us anything, we usually answer within a day.</p>';
    }
    if (atBottom) box.scrollTop = box.scrollHeight;
    var contact = state.contact;
    ui["email-form"].hidden = !(contact && contact.role === "lead" && !contact.email);
  }

  var queued = (window.contactmerge && window.contactmerge.q) || [];
  window.contactmerge = command;
  window.contactmerge.booted = true;
  command("boot", window.contactmergeSettings);
  queued.forEach(function (args) { command.apply(null, args); });
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
