from django import forms

from accounts.models import User


class UserAddForm(forms.ModelForm):
    """Staff create people without a password: they sign in with their phone."""

    class Meta:
        model = User
        fields = ["phone_number", "name", "email", "address"]

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.set_unusable_password()
        if commit:
            user.save()
        return user
