// Drives Intercom's official Node client (intercom-client) against a real contactmerge server.
// Run by tests/test_intercom_clients.py: node manage_conversations.js, with CM_BASE_URL, CM_TOKEN,
// CM_OWNER_ID and CM_AGENT_ID in the environment. Prints what the client saw as one JSON object; the
// Python test asserts on it and on the server's own answers.
"use strict";

const { IntercomClient, IntercomError } = require("intercom-client");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IntercomError) return { status: error.statusCode, body: error.body };
    throw error;
  }
  return { status: 200, body: null };
}

async function main() {
  const client = new IntercomClient({ token: env("CM_TOKEN"), baseUrl: env("CM_BASE_URL") });
  const owner = env("CM_OWNER_ID");
  const agent = env("CM_AGENT_ID");
  const seen = {};

  seen.me = await client.admins.identify();
  seen.admins = await client.admins.list();
  seen.agent = await client.admins.find({ admin_id: agent });

  const contact = await client.contacts.create({ role: "user", email: "node@example.com", external_id: "node-1" });
  const message = await client.conversations.create({
    from: { type: "user", id: contact.id },
    body: "Hello from Node",
  });
  const id = message.conversation_id;
  seen.conversation_id = id;

  const manage = (body) => client.conversations.manage({ conversation_id: id, body });
  seen.assigned = await manage({ message_type: "assignment", type: "admin", admin_id: owner, assignee_id: agent });
  seen.noted = await client.conversations.reply({
    conversation_id: id,
    body: { message_type: "note", type: "admin", admin_id: agent, body: "VIP" },
  });
  seen.replied = await client.conversations.reply({
    conversation_id: id,
    body: { message_type: "comment", type: "admin", admin_id: agent, body: "On it" },
  });
  seen.snoozed_until = Math.floor(Date.now() / 1000) + 3600;
  seen.snoozed = await manage({ message_type: "snoozed", admin_id: agent, snoozed_until: seen.snoozed_until });
  seen.opened = await manage({ message_type: "open", admin_id: agent });
  seen.closed = await manage({ message_type: "close", type: "admin", admin_id: owner, body: "Done" });
  seen.updated = await client.conversations.update({
    conversation_id: id,
    read: true,
    custom_attributes: { issue: "billing", seats: 3 },
  });
  seen.found = await client.conversations.find({ conversation_id: id });

  const query = {
    operator: "AND",
    value: [
      { field: "state", operator: "=", value: "closed" },
      { field: "statistics.last_closed_by_id", operator: "=", value: owner },
    ],
  };
  seen.searched = [];
  const page = await client.conversations.search({ query, pagination: { per_page: 5 } });
  for await (const conversation of page) seen.searched.push(conversation.id);

  seen.bad_admin = await refusal(manage({ message_type: "close", type: "admin", admin_id: "nobody" }));
  seen.bad_search = await refusal(
    client.conversations.search({ query: { field: "nope", operator: "=", value: 1 } }),
  );
  process.stdout.write(JSON.stringify(seen));
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  if (error && error.body) process.stderr.write(`${JSON.stringify(error.body)}\n`);
  process.exit(1);
});
