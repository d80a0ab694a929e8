// The simulator page: send what the learner types, poll the replies the bot delivered.
//
// One poll is in flight at a time (a send asks for another one after it, never beside it)
// and every delivered message is shown once, by its sequence number: two polls racing
// once showed one reply twice. Buttons of earlier messages are disabled as soon as the
// learner answers or a newer message arrives, so an old "Next" cannot be pressed again.
(function () {
  "use strict";
  const api = document.querySelector("main").dataset.api;
  const log = document.getElementById("log");
  const text = document.getElementById("text");
  const nameInput = document.getElementById("name");
  const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"]+/g;
  const TRAILING = /[.,;:!?'")\]]+$/;
  let learner = localStorage.getItem("trainbot.learner");
  if (!learner) {
    learner = "sim-" + Math.random().toString(36).slice(2, 12);
    localStorage.setItem("trainbot.learner", learner);
  }
  nameInput.value = localStorage.getItem("trainbot.name") || "";
  nameInput.addEventListener("change", () => localStorage.setItem("trainbot.name", nameInput.value));
  let after = 0;
  const seen = new Set();
  let inFlight = null;
  let again = false;

  function scrollToNewest() {
    log.scrollTop = log.scrollHeight;
  }

  // A link built as nodes (never innerHTML), only for http(s) addresses.
  function safeLink(href, label) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  // Bare http(s) addresses in the text nodes of `root` become links; text stays text.
  function linkify(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => (n.parentElement.closest("a") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const node of nodes) {
      const value = node.nodeValue;
      const parts = document.createDocumentFragment();
      let last = 0;
      for (const match of value.matchAll(URL_IN_TEXT)) {
        const url = match[0].replace(TRAILING, "");
        parts.append(value.slice(last, match.index), safeLink(url, url));
        last = match.index + url.length;
      }
      if (last === 0) continue;
      parts.append(value.slice(last));
      node.replaceWith(parts);
    }
  }

  function retireButtons() {
    for (const btn of log.querySelectorAll(".buttons button")) btn.disabled = true;
  }

  function bubble(cls, content) {
    const div = document.createElement("div");
    div.className = "msg " + cls;
    div.appendChild(content);
    linkify(div);
    log.appendChild(div);
    for (const img of div.querySelectorAll("img")) img.addEventListener("load", scrollToNewest);
    scrollToNewest();
    return div;
  }

  function paragraph(value) {
    const p = document.createElement("p");
    p.textContent = value;
    return p;
  }

  async function send(body, shown) {
    retireButtons();
    bubble("me", paragraph(shown));
    const payload = Object.assign({learner, name: nameInput.value, message_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random())}, body);
    try {
      const res = await fetch(api + "send", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload)});
      if (!res.ok) {
        const err = await res.json().catch(() => ({}));
        bubble("error", paragraph(err.error || ("Error " + res.status)));
      }
    } catch (e) {
      bubble("error", paragraph("Not sent: the server cannot be reached."));
    }
    poll();
  }

  function show(m) {
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
    after = Math.max(after, m.seq);
    retireButtons();
    // The server's HTML: Markdown rendered with raw HTML escaped (bot.render.to_html).
    const body = document.createElement("template");
    body.innerHTML = m.html;
    const div = bubble("bot", body.content);
    if (m.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of m.buttons) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.title;
        btn.addEventListener("click", () => send({payload: b.payload}, b.title));
        row.appendChild(btn);
      }
      div.appendChild(row);
      scrollToNewest();
    }
  }

  async function fetchNew() {
    const res = await fetch(api + "messages?learner=" + encodeURIComponent(learner) + "&after=" + after);
    if (!res.ok) return;
    for (const m of await res.json()) show(m);
  }

  // At most one request at a time; a poll asked for meanwhile runs once it is done.
  function poll() {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        do {
          again = false;
          await fetchNew().catch(() => {});
        } while (again);
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  }

  async function loadCourses() {
    const res = await fetch(api + "courses");
    const box = document.getElementById("courses");
    for (const c of await res.json()) {
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "course";
      btn.textContent = c.title + " (" + c.sessions + " sessions)";
      btn.title = c.description;
      btn.addEventListener("click", () => send({text: c.phrase}, c.phrase));
      box.appendChild(btn);
    }
  }

  document.getElementById("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = text.value;
    text.value = "";
    send({text: value}, value || "(empty)");
  });
  document.getElementById("reset").addEventListener("click", () => {
    localStorage.removeItem("trainbot.learner");
    location.reload();
  });
  loadCourses();
  poll();
  setInterval(poll, 1500);
})();
