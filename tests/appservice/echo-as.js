// A Matrix application service for the e2e tests, on matrix-appservice.
//   node echo-as.js <registration.json> <homeserver_url> <server_name>
// It listens on the registration's url, joins rooms its bot is invited to,
// and answers each m.text message with "echo: <body>". Each thing it does
// is one JSON line on stdout, which the Go side reads.
"use strict";
const fs = require("fs");
const { AppService } = require("matrix-appservice");

const [regPath, homeserver, serverName] = process.argv.slice(2);
const reg = JSON.parse(fs.readFileSync(regPath, "utf8"));
const hs = homeserver.replace(/\/$/, "");
const bot = `@${reg.sender_localpart}:${serverName}`;
const say = (o) => console.log(JSON.stringify(o));

async function call(method, path, body) {
  const res = await fetch(hs + path, {
    method,
    body: body && JSON.stringify(body),
    headers: { Authorization: `Bearer ${reg.as_token}`, "Content-Type": "application/json" },
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok && json.errcode !== "M_USER_IN_USE") {
    say({ kind: "error", method, path, status: res.status, errcode: json.errcode || "", error: json.error || "" });
  }
  return { ok: res.ok, json };
}

const as = new AppService({ homeserverToken: reg.hs_token });
as.on("type:m.room.member", async (ev) => {
  if (ev.state_key !== bot || ev.content.membership !== "invite") return;
  const r = await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(ev.room_id)}`, {});
  say({ kind: "joined", room: ev.room_id, ok: r.ok });
});
as.on("type:m.room.message", async (ev) => {
  if (ev.sender === bot || ev.content.msgtype !== "m.text") return;
  say({ kind: "message", room: ev.room_id, sender: ev.sender, body: ev.content.body });
  const txn = `echo-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const path = `/_matrix/client/v3/rooms/${encodeURIComponent(ev.room_id)}/send/m.room.message/${txn}`;
  const r = await call("PUT", path, { msgtype: "m.notice", body: `echo: ${ev.content.body}` });
  say({ kind: "echoed", room: ev.room_id, body: ev.content.body, ok: r.ok });
});

// The bot user must exist before it can be invited: register it as the
// application service (M_USER_IN_USE on a later run is fine).
async function registerBot() {
  for (let i = 0; ; i++) {
    const r = await call("POST", "/_matrix/client/v3/register", {
      type: "m.login.application_service", username: reg.sender_localpart, inhibit_login: true,
    }).catch((err) => ({ ok: false, json: { error: String(err) } }));
    if (r.ok || r.json.errcode === "M_USER_IN_USE") return;
    if (i === 30) throw new Error(`register ${bot}: ${JSON.stringify(r.json)}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

(async () => {
  const port = Number(new URL(reg.url).port);
  await as.listen(port, "127.0.0.1", 16);
  await registerBot();
  say({ kind: "listening", port, bot });
})().catch((err) => {
  say({ kind: "fatal", error: String(err) });
  process.exit(1);
});
