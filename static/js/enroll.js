// Enrollment page: register a passkey (discoverable, user verification required).
import { creationOptionsFromJSON, credentialToJSON, postJSON, showError } from "./webauthn.js";

const button = document.getElementById("enroll-button");
const error = document.getElementById("enroll-error");

async function enroll() {
  button.disabled = true;
  error.hidden = true;
  try {
    const options = await postJSON(button.dataset.optionsUrl);
    if (!options.ok) return showError(error, options.data.message || "This link cannot be used any more.");
    const credential = await navigator.credentials.create({ publicKey: creationOptionsFromJSON(options.data) });
    const name = document.getElementById("device-name").value;
    const result = await postJSON(button.dataset.completeUrl, { credential: credentialToJSON(credential), name });
    if (result.ok) {
      window.location.assign(result.data.redirect);
      return;
    }
    showError(error, result.data.message || "The passkey could not be registered.");
  } catch (e) {
    showError(error, "The passkey could not be registered. Make sure this phone has a fingerprint or face lock.");
  } finally {
    button.disabled = false;
  }
}

button.addEventListener("click", enroll);
// Rendered disabled: a tap before this module runs would otherwise do nothing.
button.disabled = false;
