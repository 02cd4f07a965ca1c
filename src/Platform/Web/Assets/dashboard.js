// The dashboard's scripts: the builder's streaming preview, the playground's streaming chat, and the charts.
// Everything works without this file except streaming and charts (forms post and pages render on the server).
"use strict";
(function () {
  // Builder: Preview streams the answer of the current (unsaved) form through the gateway.
  const builder = document.getElementById("builder");
  const previewButton = document.getElementById("preview-button");
  const previewOutput = document.getElementById("preview-output");
  if (builder && previewButton && previewOutput) {
    previewButton.addEventListener("click", async function (event) {
      if (!builder.reportValidity()) { return; }
      event.preventDefault();
      previewButton.disabled = true;
      previewOutput.textContent = "";
      previewOutput.setAttribute("aria-busy", "true");
      delete previewOutput.dataset.done;
      try {
        await window.InferenceStream.run(builder.dataset.previewUrl, { method: "POST", body: new FormData(builder) },
          function (piece) { previewOutput.textContent += piece; });
        previewOutput.dataset.done = "true";
      } catch (e) {
        previewOutput.textContent = e.message;
      } finally {
        previewButton.disabled = false;
        previewOutput.removeAttribute("aria-busy");
      }
    });
  }

  // Playground: a chat whose history stays in the page (sent with each message).
  const playground = document.getElementById("playground");
  const transcript = document.getElementById("transcript");
  if (playground && transcript) {
    const history = [];
    playground.addEventListener("submit", async function (event) {
      event.preventDefault();
      const message = playground.elements.namedItem("message");
      const text = message.value.trim();
      if (!text) { return; }
      const data = new FormData(playground);
      data.set("history", JSON.stringify(history));
      const userItem = document.createElement("li");
      userItem.className = "user";
      userItem.textContent = text;
      transcript.appendChild(userItem);
      const answerItem = document.createElement("li");
      answerItem.className = "assistant";
      answerItem.setAttribute("aria-busy", "true");
      transcript.appendChild(answerItem);
      message.value = "";
      const button = playground.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const answer = await window.InferenceStream.run("/dashboard/playground/run", { method: "POST", body: data },
          function (piece) { answerItem.textContent += piece; });
        history.push({ role: "user", content: text }, { role: "assistant", content: answer });
        answerItem.dataset.done = "true";
      } catch (e) {
        answerItem.textContent = e.message;
      } finally {
        button.disabled = false;
        answerItem.removeAttribute("aria-busy");
      }
    });
    const reset = document.getElementById("new-chat");
    if (reset) { reset.addEventListener("click", function () { history.length = 0; transcript.textContent = ""; }); }
  }

  // Charts: each <canvas data-chart="ID"> draws the JSON in <script type="application/json" id="ID">.
  if (window.Chart) {
    window.Chart.defaults.font.size = 14;
    for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
      const source = document.getElementById(canvas.dataset.chart);
      if (!source) { continue; }
      const config = JSON.parse(source.textContent);
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
      new window.Chart(canvas, config);
      canvas.dataset.drawn = "true";
    }
  }
})();
