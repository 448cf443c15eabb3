// Approval page: a WebAuthn assertion bound to this login request, user verification required.
import { credentialToJSON, postJSON, requestOptionsFromJSON, showError } from "./webauthn.js";

const button = document.getElementById("approve-button");
const error = document.getElementById("approve-error");

async function approve() {
  button.disabled = true;
  error.hidden = true;
  try {
    const options = await postJSON(button.dataset.optionsUrl);
    if (!options.ok) return showError(error, options.data.message || "This request cannot be approved any more.");
    const credential = await navigator.credentials.get({ publicKey: requestOptionsFromJSON(options.data) });
    const result = await postJSON(button.dataset.verifyUrl, credentialToJSON(credential));
    if (result.ok) {
      window.location.assign(result.data.redirect);
      return;
    }
    showError(error, result.data.message || "The approval failed. Try again.");
  } catch (e) {
    showError(error, "Your phone did not confirm it was you. Try again with your fingerprint or face.");
  } finally {
    button.disabled = false;
  }
}

button.addEventListener("click", approve);
// Rendered disabled: a tap before this module runs would otherwise do nothing.
button.disabled = false;
