// Reads an OpenAI chat completion stream (server-sent events) and hands each piece of text to onText.
// Text goes into the page with textContent only: never parsed as HTML.
"use strict";
window.InferenceStream = {
  async run(url, init, onText) {
    const response = await fetch(url, init);
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { const body = await response.json(); if (body && body.error && body.error.message) { message = body.error.message; } } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) { break; }
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) { continue; }
          const data = line.slice(6);
          if (data === "[DONE]") { return text; }
          const chunk = JSON.parse(data);
          if (chunk.error) { throw new Error(chunk.error.message || "error"); }
          const piece = chunk.choices && chunk.choices[0] && chunk.choices[0].delta && chunk.choices[0].delta.content;
          if (piece) { text += piece; onText(piece, text); }
        }
      }
    }
    return text;
  }
};
