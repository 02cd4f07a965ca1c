// A published app's page (hosted or exported): sends the form to the app's run endpoint and streams the answer.
"use strict";
(function () {
  const form = document.getElementById("app-form");
  const answer = document.getElementById("answer");
  if (!form || !answer) { return; }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const inputs = {};
    for (const [name, value] of new FormData(form).entries()) {
      if (name.startsWith("in.")) { inputs[name.slice(3)] = String(value); }
    }
    const body = { inputs: inputs, stream: true };
    if (form.dataset.version) { body.version = Number(form.dataset.version); }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    answer.textContent = "";
    answer.classList.remove("error");
    answer.setAttribute("aria-busy", "true");
    try {
      await window.InferenceStream.run(form.dataset.runUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + form.dataset.key },
        body: JSON.stringify(body)
      }, function (piece) { answer.textContent += piece; });
      answer.dataset.done = "true";
    } catch (e) {
      answer.textContent = e.message;
      answer.classList.add("error");
    } finally {
      button.disabled = false;
      answer.removeAttribute("aria-busy");
    }
  });
})();
