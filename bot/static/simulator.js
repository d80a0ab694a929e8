// The simulator page: send what the learner types, poll the replies the bot delivered.
(function () {
  "use strict";
  const api = document.querySelector("main").dataset.api;
  const log = document.getElementById("log");
  const text = document.getElementById("text");
  const nameInput = document.getElementById("name");
  let learner = localStorage.getItem("trainbot.learner");
  if (!learner) {
    learner = "sim-" + Math.random().toString(36).slice(2, 12);
    localStorage.setItem("trainbot.learner", learner);
  }
  nameInput.value = localStorage.getItem("trainbot.name") || "";
  nameInput.addEventListener("change", () => localStorage.setItem("trainbot.name", nameInput.value));
  let after = 0;

  function bubble(cls, html) {
    const div = document.createElement("div");
    div.className = "msg " + cls;
    if (typeof html === "string") div.innerHTML = html; else div.appendChild(html);
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  async function send(body, shown) {
    const p = document.createElement("p");
    p.textContent = shown;
    bubble("me", p);
    const payload = Object.assign({learner, name: nameInput.value, message_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random())}, body);
    const res = await fetch(api + "send", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload)});
    if (!res.ok) {
      const err = await res.json().catch(() => ({}));
      const e = document.createElement("p");
      e.textContent = err.error || ("Error " + res.status);
      bubble("error", e);
    }
    poll();
  }

  async function poll() {
    const res = await fetch(api + "messages?learner=" + encodeURIComponent(learner) + "&after=" + after);
    if (!res.ok) return;
    for (const m of await res.json()) {
      after = Math.max(after, m.seq);
      const div = bubble("bot", m.html);
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
      }
    }
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
