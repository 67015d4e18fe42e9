"""{% load words %}: ledger kinds, payload fields and amounts in words (custos.console.words)."""

from django import template

from custos.console import words

register = template.Library()


@register.filter
def kind_label(kind):
    return words.kind_label(str(kind or ""))


@register.filter
def field_label(key):
    return words.field_label(str(key or ""))


@register.filter
def yuan(fen):
    return words.yuan(fen)


@register.filter
def value_label(value, key):
    return words.show(str(key), value)


@register.filter
def hit_rule(rule):
    return words.hit_rule(str(rule or ""))
