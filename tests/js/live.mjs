// npm's graphql-ws client against the server: a query over the websocket, then one
// subscription event, printed as JSON lines; or, with a bad token, how the socket closed.
// Usage: node live.mjs <ws url> <bearer token> [<customer global id>]
import { createClient } from 'graphql-ws';

const [url, token, customerId] = process.argv.slice(2);
const print = (value) => console.log(JSON.stringify(value));
let closed = null;
const client = createClient({
  url,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: { closed: (event) => { closed = { code: event.code, reason: event.reason }; } },
});

try {
  const viewer = await client.iterate({ query: '{ viewer { role subject } }' }).next();
  print({ kind: 'query', result: viewer.value });
  if (customerId) {
    const events = client.iterate({
      query: 'subscription ($id: ID!) { customerActivity(customerId: $id) { topic payload } }',
      variables: { id: customerId },
    });
    print({ kind: 'subscribed' }); // the test writes once it reads this line
    const event = await events.next();
    print({ kind: 'event', result: event.value });
    await events.return();
  }
} catch (error) {
  // graphql-ws rejects with the CloseEvent when the server closes the socket.
  print({ kind: 'closed', code: error?.code ?? closed?.code, reason: error?.reason ?? closed?.reason });
} finally {
  await client.dispose();
}
